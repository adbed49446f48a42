"""Vector tiles (issue 8): parcels keep their shape and a point on it in Web Mercator, GiST-indexed.

Computed by PostGIS on every write (stored generated columns), so a tile request transforms nothing: a
whole-city tile of 100,000 parcels spent most of its time in ST_Transform / ST_PointOnSurface, and each
parallel worker of a tile query paid PROJ's start-up again (bench/RESULTS.md, "Vector tiles").

Revision ID: 0005_tile_geometry
Revises: 0004_import_jobs
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0005_tile_geometry"
down_revision: str | None = "0004_import_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("parcel", sa.Column(
        "tile_geom", Geometry("MULTIPOLYGON", srid=3857, spatial_index=False),
        sa.Computed("ST_Transform(geom, 3857)", persisted=True), nullable=True))
    op.add_column("parcel", sa.Column(
        "tile_point", Geometry("POINT", srid=3857, spatial_index=False),
        sa.Computed("ST_Transform(ST_PointOnSurface(geom), 3857)", persisted=True), nullable=True))
    op.create_index("ix_parcel_current_tile_geom", "parcel", ["tile_geom"], postgresql_using="gist",
                    postgresql_where=sa.text("valid_to IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_parcel_current_tile_geom", table_name="parcel")
    op.drop_column("parcel", "tile_point")
    op.drop_column("parcel", "tile_geom")
