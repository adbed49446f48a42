"""Parcel writes in different parts of the city no longer wait for each other: the overlap guard locks the
grid cells its rows touch instead of one lock for the whole database, and collection versions are counted
per writing session instead of in one row every writer updates.

Until now every insert of current industrial land took one advisory lock (`landcycle.parcel_overlap`) and
held it to its commit, so a long import anywhere made every parcel write everywhere wait. Two parcels that
overlap by more than the tolerance (SPEC §2) share interior points, so their bounding boxes share a cell of
any grid: `parcel_overlap_cells(geom)` names the cells of a 0.1° grid (about 10 × 11 km in Shanghai) that a
geometry's bounding box touches, every one of them for a parcel crossing a cell border, and the guard locks
the cells of its statement's rows in ascending order before it probes. Writers of overlapping parcels still
wait for each other and the later one sees the earlier one's committed rows, exactly as before; writers
elsewhere in the city no longer wait at all. The grid is fixed (anchored at 180°W, 90°S) so that every
process and every version of the service agrees on it, whatever the configured extent.

The collection versions (ETags and cached counts, app/features/versions.py) were one row per table that
every write statement updated, so every writer of parcels waited for the row lock of the one before it
until that one committed — a long import held up every edit. Each session now counts its writes in a row
of its own (`collection_version_slot`, keyed by table and backend pid: two transactions open at once never
share a backend) and `collection_version` is a view of their sums, which still grow with every committed
write and with nothing else.

Locks are advisory locks of two keys, class 10 (app/locks.py) and the cell number (row × 3600 + column).
A transaction of several statements may take cells in another order than a concurrent one; PostgreSQL
detects such a deadlock and fails one of them (40P01, answered 409 VERSION_CONFLICT: retry).

Revision ID: 0010_parcel_overlap_cells
Revises: 0009_import_job_cancelled
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_parcel_overlap_cells"
down_revision: str | None = "0009_import_job_cancelled"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELLS = """
CREATE FUNCTION parcel_overlap_cells(g geometry) RETURNS SETOF integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT y * 3600 + x
    FROM generate_series(least(greatest(floor((ST_YMin(g) + 90) * 10)::integer, 0), 1799),
                         least(greatest(floor((ST_YMax(g) + 90) * 10)::integer, 0), 1799)) AS y,
         generate_series(least(greatest(floor((ST_XMin(g) + 180) * 10)::integer, 0), 3599),
                         least(greatest(floor((ST_XMax(g) + 180) * 10)::integer, 0), 3599)) AS x
$$
"""

# Migration 0006's guard with the cells' locks in place of the one database-wide lock.
GUARD = """
CREATE OR REPLACE FUNCTION parcel_overlap_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  hit record;
  cell integer;
  tolerance double precision := coalesce(
    nullif(current_setting('landcycle.overlap_tolerance_m2', true), '')::double precision, 1.0);
  arrived bigint;
  screen boolean := false;
BEGIN
  -- In ascending order, so two statements wanting the same cells never wait for each other in a cycle.
  FOR cell IN SELECT DISTINCT c FROM new_rows, LATERAL parcel_overlap_cells(new_rows.geom) AS c
               WHERE new_rows.valid_to IS NULL AND new_rows.land_use IN ('industrial', 'rnd') ORDER BY c LOOP
    PERFORM pg_advisory_xact_lock(10, cell);
  END LOOP;
  SELECT count(*) INTO arrived FROM new_rows WHERE valid_to IS NULL AND land_use IN ('industrial', 'rnd');
  IF arrived >= 1000 THEN
    IF (SELECT reltuples FROM pg_class WHERE oid = 'parcel'::regclass) < arrived THEN
      ANALYZE parcel (id, valid_to, land_use, geom);
    END IF;
    -- The new rows are current parcels in their extent too: equal counts mean they are alone there. (A
    -- parcel another writer adds meanwhile in a cell none of these rows touches cannot overlap them.)
    screen := arrived = (
      SELECT count(*) FROM parcel p
       WHERE p.valid_to IS NULL AND p.land_use IN ('industrial', 'rnd')
         AND p.geom && (SELECT ST_SetSRID(ST_Extent(geom)::geometry, 4490) FROM new_rows));
  END IF;
  SELECT n.id AS a, o.id AS b, o.m2 INTO hit
    FROM (SELECT id, geom FROM new_rows
           WHERE NOT screen AND valid_to IS NULL AND land_use IN ('industrial', 'rnd')
          UNION ALL
          SELECT id, geom FROM (
            SELECT id, geom, ST_ClusterDBSCAN(geom, 0, 2) OVER () AS near FROM new_rows  -- NULL: meets none
             WHERE screen AND valid_to IS NULL AND land_use IN ('industrial', 'rnd')) c
           WHERE near IS NOT NULL) n
   CROSS JOIN LATERAL (
     SELECT p.id, ST_Area(ST_Intersection(n.geom, p.geom)::geography) AS m2
       FROM parcel p
      WHERE p.valid_to IS NULL AND p.id <> n.id AND p.land_use IN ('industrial', 'rnd')
        AND ST_Intersects(n.geom, p.geom) AND NOT ST_Touches(n.geom, p.geom)) o
   WHERE o.m2 > tolerance
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'parcel % overlaps parcel % by % m2', hit.a, hit.b, round(hit.m2::numeric, 1)
      USING ERRCODE = '23P01';
  END IF;
  RETURN NULL;
END $$
"""


BUMP = """
CREATE OR REPLACE FUNCTION bump_collection_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO collection_version_slot (name, slot, version, changed_at)
  VALUES (TG_TABLE_NAME, pg_backend_pid(), 1, now())
  ON CONFLICT (name, slot) DO UPDATE SET version = collection_version_slot.version + 1, changed_at = now();
  RETURN NULL;
END $$
"""
BUMP_ONE_ROW = """
CREATE OR REPLACE FUNCTION bump_collection_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO collection_version (name, version, changed_at) VALUES (TG_TABLE_NAME, 1, now())
  ON CONFLICT (name) DO UPDATE SET version = collection_version.version + 1, changed_at = now();
  RETURN NULL;
END $$
"""  # migration 0001's


def upgrade() -> None:
    op.execute(CELLS)
    op.execute(GUARD)
    op.execute("ALTER TABLE collection_version RENAME TO collection_version_slot")
    op.execute("ALTER TABLE collection_version_slot ADD COLUMN slot integer NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE collection_version_slot ALTER COLUMN slot DROP DEFAULT")
    op.execute("ALTER TABLE collection_version_slot DROP CONSTRAINT pk_collection_version")
    op.execute("ALTER TABLE collection_version_slot ADD CONSTRAINT pk_collection_version_slot PRIMARY KEY (name, slot)")
    op.execute("""CREATE VIEW collection_version AS
                  SELECT name, sum(version)::bigint AS version, max(changed_at) AS changed_at
                    FROM collection_version_slot GROUP BY name""")
    op.execute(BUMP)


def downgrade() -> None:
    import importlib.util
    from pathlib import Path

    # Migration 0006's guard, from its own file (Alembic loads version files by path, not as a package).
    spec = importlib.util.spec_from_file_location(
        "parcel_bulk_writes", Path(__file__).with_name("2026_11_28_parcel_bulk_writes.py"))
    assert spec is not None and spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    op.execute(previous.GUARD)
    op.execute("DROP FUNCTION parcel_overlap_cells(geometry)")
    op.execute("DROP VIEW collection_version")
    op.execute("""CREATE TEMPORARY TABLE collection_version_sum ON COMMIT DROP AS
                  SELECT name, sum(version)::bigint AS version, max(changed_at) AS changed_at
                    FROM collection_version_slot GROUP BY name""")
    op.execute("DELETE FROM collection_version_slot")
    op.execute("ALTER TABLE collection_version_slot DROP CONSTRAINT pk_collection_version_slot")
    op.execute("ALTER TABLE collection_version_slot DROP COLUMN slot")
    op.execute("INSERT INTO collection_version_slot SELECT name, version, changed_at FROM collection_version_sum")
    op.execute("ALTER TABLE collection_version_slot RENAME TO collection_version")
    op.execute("ALTER TABLE collection_version ADD CONSTRAINT pk_collection_version PRIMARY KEY (name)")
    op.execute(BUMP_ONE_ROW)
