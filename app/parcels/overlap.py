"""SPEC §2's overlap check from the database: industrial/R&D parcels sharing interior points, measured on
the ellipsoid; refused beyond the tolerance by `app.parcels.rules.overlap_refusal` (pure), whose text every
surface shows. A single parcel write (REST, WFS-T, the page) asks `check_overlap`; a bulk write (import,
demo) lets the database's guard decide and, when it refuses, lists the rows with `overlaps_in_stage`. The
guard itself (trigger parcel_overlap_guard, migration 0010) measures the same way in PL/pgSQL."""

from __future__ import annotations

from shapely.geometry import MultiPolygon
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ParcelOverlap
from app.parcels import rules
from app.policy import INDUSTRIAL_USES, Policy
from gis.crs import STORAGE_SRID
from models.base import current_sql

_USES = ", ".join(f"'{use}'" for use in sorted(INDUSTRIAL_USES))


def _industrial(*tables: str) -> str:
    """SQL: the rows of `tables` are industrial/R&D land, the only land the check applies to."""
    return " AND ".join(f"{t}.land_use IN ({_USES})" for t in tables)


def _overlap(a: str, b: str) -> str:
    """SQL: `a` and `b` share interior points (an edge or a corner in common is no overlap)."""
    return f"ST_Intersects({a}, {b}) AND NOT ST_Touches({a}, {b})"


def _area(a: str, b: str) -> str:
    """SQL: the area `a` and `b` share, in m² on the ellipsoid (SPEC §2), as `m2`."""
    return f"ST_Area(ST_Intersection({a}, {b})::geography) AS m2"


_ONE = text(f"""
    SELECT p.id, p.code, {_area("p.geom", "c.g")}
      FROM parcel p, (SELECT ST_GeomFromWKB(:g, :srid) AS g) AS c
     WHERE {current_sql('p')} AND {_industrial("p")} AND p.id <> :id AND {_overlap("p.geom", "c.g")}
     ORDER BY m2 DESC LIMIT 1
""")  # noqa: S608 (constant fragments)


def _named(what: str, ident: int, code: str) -> str:
    return f"{what} {ident} ({code})"


async def check_overlap(session: AsyncSession, policy: Policy, parcel_id: int, geom: MultiPolygon) -> None:
    """SPEC §2 for one parcel write: PARCEL_OVERLAP naming the current industrial/R&D parcel it overlaps
    most, when that is beyond the tolerance."""
    row = (await session.execute(_ONE, {"g": geom.wkb, "srid": STORAGE_SRID, "id": parcel_id})).first()
    if row is None:
        return
    refusal = rules.overlap_refusal(_named("parcel", row.id, row.code), row.m2, policy,
                                    other_parcel_id=row.id, other_parcel_code=row.code)
    if refusal is not None:
        raise refusal


async def overlaps_in_stage(session: AsyncSession, policy: Policy, stage: str) -> dict[int, ParcelOverlap]:
    """SPEC §2 for a whole staged batch (`stage`: key, code, land_use, geom, row_no): the refusal of each
    staged industrial row overlapping a current parcel or an earlier staged row beyond the tolerance, naming
    the first such one."""
    rows = await session.execute(text(f"""
        SELECT s.key, 'parcel' AS what, p.id AS ident, p.code, {_area("s.geom", "p.geom")}
          FROM {stage} s JOIN parcel p ON {current_sql('p')} AND {_industrial("p")} AND {_overlap("s.geom", "p.geom")}
         WHERE {_industrial("s")}
        UNION ALL
        SELECT b.key, 'row' AS what, a.row_no AS ident, a.code, {_area("a.geom", "b.geom")}
          FROM {stage} a JOIN {stage} b ON a.key < b.key AND {_overlap("a.geom", "b.geom")}
         WHERE {_industrial("a", "b")}
    """))  # noqa: S608 (constant table name and fragments)
    found: dict[int, ParcelOverlap] = {}
    for key, what, ident, code, m2 in rows:
        if key not in found and (refusal := rules.overlap_refusal(_named(what, ident, code), m2, policy)):
            found[key] = refusal
    return found
