"""The schema comes from migrations only: they agree with the models and the database guards hold."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import migrate
from tests.conftest import TEST_URL


async def test_models_and_migrations_agree(engine):
    await asyncio.to_thread(migrate.check, TEST_URL)  # raises on drift


async def test_spatial_columns_have_gist_indexes(conn):
    rows = await conn.execute(text("""
        SELECT indexname FROM pg_indexes WHERE indexdef ILIKE '%USING gist%' ORDER BY indexname
    """))
    names = {r[0] for r in rows}
    assert {"ix_district_geom", "ix_zone_current_geom", "ix_parcel_current_geom", "ix_parcel_history_geom"} <= names


async def test_one_current_row_per_parcel_is_enforced_by_the_database(conn, city, client):
    from tests.builders import create_parcel, square

    p = await create_parcel(client, square(121.45, 31.2), code="U-1")
    with pytest.raises(DBAPIError):
        async with conn.begin_nested():
            await conn.execute(text("""
                INSERT INTO parcel (id, version, code, land_use, status, planning_locked, geom)
                SELECT id, 2, 'U-1b', land_use, status, planning_locked, geom FROM parcel WHERE id = :id
            """), {"id": p["id"]})


async def test_overlapping_industrial_parcels_are_refused_by_the_database_too(conn, city, client):
    from tests.builders import create_parcel, square

    p = await create_parcel(client, square(121.45, 31.2), code="G-1")
    with pytest.raises(DBAPIError, match="overlaps"):
        async with conn.begin_nested():
            await conn.execute(text("""
                INSERT INTO parcel (id, version, code, land_use, status, planning_locked, geom)
                SELECT nextval('parcel_id_seq'), 1, 'G-2', 'industrial', 'planned', false, geom
                  FROM parcel WHERE id = :id
            """), {"id": p["id"]})


async def test_a_parcel_s_area_and_tile_shapes_are_measured_by_the_database_whatever_a_writer_says(conn, city):
    # SPEC §2's area on the ellipsoid; a writer's own numbers are overruled unless an INSERT declares it
    # brings the measures (only the bulk insert does, computing them with the same function).
    measured = """
        SELECT area_m2 = ST_Area(geom::geography) AND ST_OrderingEquals(tile_geom, ST_Transform(geom, 3857))
               AND ST_OrderingEquals(tile_point, ST_Transform(ST_PointOnSurface(geom), 3857))
          FROM parcel WHERE code = :code AND valid_to IS NULL
    """
    await conn.execute(text("""
        INSERT INTO parcel (id, version, code, land_use, status, planning_locked, geom, area_m2, tile_geom,
                            tile_point)
        VALUES (nextval('parcel_id_seq'), 1, 'M-1', 'office', 'planned', false,
                ST_Multi(ST_MakeEnvelope(121.40, 31.20, 121.41, 31.21, 4490)), 1.0,
                ST_Multi(ST_MakeEnvelope(0, 0, 1, 1, 3857)), ST_SetSRID(ST_MakePoint(0, 0), 3857))
    """))
    assert await conn.scalar(text(measured), {"code": "M-1"}) is True
    assert 1_000_000 < await conn.scalar(text("SELECT area_m2 FROM parcel WHERE code = 'M-1'")) < 1_300_000
    await conn.execute(text("UPDATE parcel SET geom = ST_Multi(ST_MakeEnvelope(121.40, 31.20, 121.401, 31.201, "
                            "4490)) WHERE code = 'M-1'"))
    assert await conn.scalar(text(measured), {"code": "M-1"}) is True
    assert await conn.scalar(text("SELECT area_m2 FROM parcel WHERE code = 'M-1'")) < 20_000
    # Nor may an UPDATE overwrite them: a measured column set by hand is measured again from the geometry.
    origin = "ST_SetSRID(ST_MakePoint(0, 0), 3857)"
    for column, value in (("area_m2", "0"), ("tile_geom", "NULL"), ("tile_point", origin)):
        await conn.execute(text(f"UPDATE parcel SET {column} = {value} WHERE code = 'M-1'"))  # noqa: S608
        assert await conn.scalar(text(measured), {"code": "M-1"}) is True, column


GRID = """
    INSERT INTO parcel (id, version, code, land_use, status, planning_locked, geom)
    SELECT nextval('parcel_id_seq'), 1, :prefix || i || '-' || j, 'industrial', 'planned', false,
           ST_Multi(ST_MakeEnvelope(x0 + i * step, 31.00 + j * step, x0 + i * step + side, 31.00 + j * step + side,
                                    4490))
      FROM CAST(:x0 AS float8) x0, CAST(:step AS float8) step, CAST(:side AS float8) side,
           generate_series(0, 39) i, generate_series(0, 29) j
"""  # 1,200 squares of `side` degrees every `step` degrees: a bulk statement, screened by the guard


async def _grid(conn, prefix: str, step: float, side: float, extra: str = "", x0: float = 121.30) -> None:
    async with conn.begin_nested():
        await conn.execute(text(GRID + extra), {"prefix": prefix, "step": step, "side": side, "x0": x0})


async def test_a_big_statement_of_separate_or_touching_parcels_passes_the_guard(conn, city):
    await _grid(conn, "S-", step=0.001, side=0.0005)  # apart
    await _grid(conn, "T-", step=0.0005, side=0.0005, x0=121.36)  # edge to edge, east of the first grid
    assert await conn.scalar(text("SELECT count(*) FROM parcel WHERE valid_to IS NULL")) == 2400
    assert await conn.scalar(text("SELECT min(area_m2) FROM parcel")) > 2000  # 0.0005° squares: 2,600 m²


async def test_a_big_statement_with_two_overlapping_rows_is_refused_by_the_guard(conn, city):
    with pytest.raises(DBAPIError, match="overlaps parcel"):
        await _grid(conn, "O-", step=0.001, side=0.0005, extra="""
            UNION ALL SELECT nextval('parcel_id_seq'), 1, 'O-extra', 'industrial', 'planned', false,
                             ST_Multi(ST_MakeEnvelope(121.3102, 31.0102, 121.3108, 31.0108, 4490))""")
    assert await conn.scalar(text("SELECT count(*) FROM parcel")) == 0


async def test_a_big_statement_overlapping_a_parcel_already_there_is_refused_by_the_guard(conn, city, client):
    from tests.builders import create_parcel

    square = {"type": "Polygon", "coordinates": [[[121.3152, 31.0152], [121.3158, 31.0152], [121.3158, 31.0158],
                                                  [121.3152, 31.0158], [121.3152, 31.0152]]]}
    await create_parcel(client, square, code="THERE")
    with pytest.raises(DBAPIError, match="overlaps parcel"):
        await _grid(conn, "E-", step=0.001, side=0.0005)  # (15, 15) covers it
    assert await conn.scalar(text("SELECT count(*) FROM parcel WHERE valid_to IS NULL")) == 1


async def test_the_audit_log_cannot_be_updated_or_deleted(conn, city, client):
    from tests.builders import create_parcel, square

    await create_parcel(client, square(121.45, 31.2), code="A-1")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with conn.begin_nested():
                await conn.execute(text(statement))
