"""A parcel's measured columns cannot be overwritten by an UPDATE.

Migration 0007 made `area_m2`, `tile_geom` and `tile_point` plain columns filled by a trigger; its update
trigger fired only for `UPDATE OF geom`, so `UPDATE parcel SET area_m2 = 0` — which the generated columns of
0005 refused — stored a wrong area. Now every UPDATE that changes the geometry or any measured column
computes all three again from the geometry (`parcel_measures()`), so they always say what the geometry
says; the service's own updates (closing a version: `valid_to`) change neither and do not pay for it.

Revision ID: 0008_parcel_measures_kept
Revises: 0007_parcel_measures_trigger
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_parcel_measures_kept"
down_revision: str | None = "0007_parcel_measures_trigger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ON_UPDATE = """
CREATE TRIGGER parcel_measures_on_update BEFORE UPDATE ON parcel FOR EACH ROW
  WHEN (NEW.geom IS DISTINCT FROM OLD.geom OR NEW.area_m2 IS DISTINCT FROM OLD.area_m2
        OR NEW.tile_geom IS DISTINCT FROM OLD.tile_geom OR NEW.tile_point IS DISTINCT FROM OLD.tile_point)
  EXECUTE FUNCTION parcel_set_measures()
"""
# Migration 0007's trigger, as it was.
ON_UPDATE_OF_GEOM = """
CREATE TRIGGER parcel_measures_on_update BEFORE UPDATE OF geom ON parcel FOR EACH ROW
  EXECUTE FUNCTION parcel_set_measures()
"""


def upgrade() -> None:
    op.execute("DROP TRIGGER parcel_measures_on_update ON parcel")
    op.execute(ON_UPDATE)


def downgrade() -> None:
    op.execute("DROP TRIGGER parcel_measures_on_update ON parcel")
    op.execute(ON_UPDATE_OF_GEOM)
