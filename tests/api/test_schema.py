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
    assert {"ix_district_geom", "ix_zone_current_geom", "ix_parcel_current_geom", "ix_parcel_geom"} <= names


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


async def test_the_audit_log_cannot_be_updated_or_deleted(conn, city, client):
    from tests.builders import create_parcel, square

    await create_parcel(client, square(121.45, 31.2), code="A-1")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with conn.begin_nested():
                await conn.execute(text(statement))
