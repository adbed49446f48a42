"""The tile-change log is pruned without making writers wait for each other.

Migration 0012's trigger deleted every row older than a day inside the writing statement's transaction,
one write in a hundred: a long import that pruned held those rows locked to its commit, and another writer
whose turn it was to prune waited for it (two could deadlock). A prune now takes at most 1,000 old rows
that no other transaction holds (`FOR UPDATE SKIP LOCKED`); the rest wait for the next prune. The rows
kept, and what a tile's check reads, are unchanged. Downgrading keeps this prune (the same table and rows).

Revision ID: 0013_tile_change_prune
Revises: 0012_tile_changes
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_tile_change_prune"
down_revision: str | None = "0012_tile_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTE = """
        CREATE OR REPLACE FUNCTION note_tile_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          extent box2d;
        BEGIN
          IF TG_OP = 'TRUNCATE' THEN
            INSERT INTO tile_change (collection, bbox) VALUES (TG_TABLE_NAME, NULL);
            RETURN NULL;
          ELSIF TG_OP = 'INSERT' THEN
            SELECT ST_Extent(geom) INTO extent FROM new_rows;
          ELSIF TG_OP = 'DELETE' THEN
            SELECT ST_Extent(geom) INTO extent FROM old_rows;
          ELSE
            SELECT ST_Extent(geom) INTO extent FROM (SELECT geom FROM old_rows UNION ALL SELECT geom FROM new_rows) s;
          END IF;
          IF extent IS NOT NULL THEN
            INSERT INTO tile_change (collection, bbox) VALUES (TG_TABLE_NAME, ST_SetSRID(extent::geometry, 4490));
          END IF;
          IF random() < 0.01 THEN
            DELETE FROM tile_change WHERE id IN (
              SELECT id FROM tile_change WHERE changed_at < now() - interval '1 day'
               ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED);
          END IF;
          RETURN NULL;
        END $$
"""


def upgrade() -> None:
    op.execute(NOTE)


def downgrade() -> None:
    pass  # 0012's function with a prune that waits for no one: nothing to undo
