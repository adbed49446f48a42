"""A parcel's measured columns (`area_m2`, `tile_geom`, `tile_point`) filled by a trigger instead of stored
generated expressions, so a bulk insert can bring them computed in parallel (issue 7).

A stored generated column is computed by the one backend that runs the INSERT: for 103,000 parcels the three
expressions cost 4.1 s of a 7.7 s statement, one core busy and the other idle. The trigger computes the very
same expressions (`parcel_measures(geom)`) for every row of every statement (REST, WFS-T, versions, demo,
import) unless the statement declares that it brings them (`SET LOCAL landcycle.parcel_measures =
'supplied'`) and brings all three. Only the bulk insert declares it (app/parcels/bulk.py): it computes the
values just before with the same function, off the INSERT's one backend (at first in a parallel query, now
on a second connection). An UPDATE that changes the geometry recomputes them whatever it says.

Revision ID: 0007_parcel_measures_trigger
Revises: 0006_parcel_bulk_writes
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0007_parcel_measures_trigger"
down_revision: str | None = "0006_parcel_bulk_writes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SPEC §2's area, and the tile geometries of migration 0005: the expressions the generated columns had, in one
# function the trigger and the bulk insert both call (inlined by the planner, parallel safe).
MEASURES = """
CREATE FUNCTION parcel_measures(g geometry)
  RETURNS TABLE (area_m2 double precision, tile_geom geometry, tile_point geometry)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ST_Area(g::geography), ST_Transform(g, 3857), ST_Transform(ST_PointOnSurface(g), 3857)
$$
"""
SET_MEASURES = """
CREATE FUNCTION parcel_set_measures() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT m.area_m2, m.tile_geom, m.tile_point INTO NEW.area_m2, NEW.tile_geom, NEW.tile_point
    FROM parcel_measures(NEW.geom) AS m;
  RETURN NEW;
END $$
"""
ON_INSERT = """
CREATE TRIGGER parcel_measures BEFORE INSERT ON parcel FOR EACH ROW
  WHEN (current_setting('landcycle.parcel_measures', true) IS DISTINCT FROM 'supplied'
        OR NEW.area_m2 IS NULL OR NEW.tile_geom IS NULL OR NEW.tile_point IS NULL)
  EXECUTE FUNCTION parcel_set_measures()
"""
ON_UPDATE = """
CREATE TRIGGER parcel_measures_on_update BEFORE UPDATE OF geom ON parcel FOR EACH ROW
  EXECUTE FUNCTION parcel_set_measures()
"""
COLUMNS = ("area_m2", "tile_geom", "tile_point")


def upgrade() -> None:
    for column in COLUMNS:  # the stored values stay; only the expressions go
        op.execute(f"ALTER TABLE parcel ALTER COLUMN {column} DROP EXPRESSION")
    op.execute(MEASURES)
    op.execute(SET_MEASURES)
    op.execute(ON_INSERT)
    op.execute(ON_UPDATE)


def downgrade() -> None:
    op.execute("DROP TRIGGER parcel_measures_on_update ON parcel")
    op.execute("DROP TRIGGER parcel_measures ON parcel")
    op.execute("DROP FUNCTION parcel_set_measures()")
    op.execute("DROP FUNCTION parcel_measures(geometry)")
    # A column cannot become generated again: drop and add it back (PostgreSQL recomputes every row).
    for column in COLUMNS:
        op.drop_column("parcel", column)
    op.add_column("parcel", sa.Column("area_m2", sa.Float(), sa.Computed("ST_Area(geom::geography)", persisted=True),
                                      nullable=False))
    op.add_column("parcel", sa.Column(
        "tile_geom", Geometry("MULTIPOLYGON", srid=3857, spatial_index=False),
        sa.Computed("ST_Transform(geom, 3857)", persisted=True), nullable=True))
    op.add_column("parcel", sa.Column(
        "tile_point", Geometry("POINT", srid=3857, spatial_index=False),
        sa.Computed("ST_Transform(ST_PointOnSurface(geom), 3857)", persisted=True), nullable=True))
