"""Where each write landed, for exact tile invalidation (app/tiles/service.py): `tile_change`.

Every statement that writes `parcel`, `zone` or `district` records the extent of the rows it touched (old
and new), under its top-level transaction id. A worker that holds a tile built at an older collection version
keeps it when no change its snapshot did not see touches the tile: one indexed query on whichever node
serves the read (the table replicates like any other), the same answer on every worker behind a load
balancer, no message to miss. TRUNCATE records a change of unknown extent (every tile). Rows older than a
day are pruned now and then by the trigger; cached tiles older than that are never carried forward.

Revision ID: 0012_tile_changes
Revises: 0011_supervision
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_tile_changes"
down_revision: str | None = "0011_supervision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("district", "zone", "parcel")


def upgrade() -> None:
    op.execute("""
        CREATE TABLE tile_change (
          id bigserial PRIMARY KEY,
          collection varchar(32) NOT NULL,
          xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
          bbox geometry(Geometry, 4490),
          changed_at timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("CREATE INDEX ix_tile_change_collection_xid ON tile_change (collection, xid)")
    op.execute("CREATE INDEX ix_tile_change_changed_at ON tile_change (changed_at)")
    # One row per writing statement: the extent of its old and new rows (none when it touched no row).
    op.execute("""
        CREATE FUNCTION note_tile_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
            DELETE FROM tile_change WHERE changed_at < now() - interval '1 day';
          END IF;
          RETURN NULL;
        END $$
    """)
    for table in TABLES:
        op.execute(f"""CREATE TRIGGER {table}_tile_change_insert AFTER INSERT ON {table}
                       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_tile_change()""")
        op.execute(f"""CREATE TRIGGER {table}_tile_change_update AFTER UPDATE ON {table}
                       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                       FOR EACH STATEMENT EXECUTE FUNCTION note_tile_change()""")
        op.execute(f"""CREATE TRIGGER {table}_tile_change_delete AFTER DELETE ON {table}
                       REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION note_tile_change()""")
        op.execute(f"""CREATE TRIGGER {table}_tile_change_truncate AFTER TRUNCATE ON {table}
                       FOR EACH STATEMENT EXECUTE FUNCTION note_tile_change()""")


def downgrade() -> None:
    for table in TABLES:
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_tile_change_{event} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS note_tile_change()")
    op.execute("DROP TABLE IF EXISTS tile_change")
