"""Initial schema: districts, zones and parcels (versioned), users, audit log, change counters.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = sa.text("valid_to IS NULL")


def _geom() -> Geometry:
    return Geometry("MULTIPOLYGON", srid=4490, spatial_index=False)


def _versioned() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_by", sa.String(64), nullable=True),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    op.create_table(
        "district",
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("name_zh", sa.String(64), nullable=False),
        sa.Column("name_en", sa.String(64), nullable=False),
        sa.Column("geom", _geom(), nullable=False),
        sa.CheckConstraint("code ~ '^[0-9]{6}$'", name=op.f("ck_district_code_six_digits")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_district")),
    )
    op.create_index("ix_district_geom", "district", ["geom"], postgresql_using="gist")

    op.execute("CREATE SEQUENCE zone_id_seq")
    op.create_table(
        "zone",
        *_versioned(),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("advanced_manufacturing", sa.Boolean(), nullable=False),
        sa.Column("far_cap", sa.Numeric(5, 2), nullable=True),
        sa.Column("far_min", sa.Numeric(5, 2), nullable=True),
        sa.Column("district_code", sa.String(6), nullable=True),
        sa.Column("geom", _geom(), nullable=False),
        sa.CheckConstraint("kind IN ('base', 'community')", name=op.f("ck_zone_kind")),
        sa.CheckConstraint("far_cap IS NULL OR far_cap > 0", name=op.f("ck_zone_far_cap_positive")),
        sa.CheckConstraint("far_min IS NULL OR far_min >= 0", name=op.f("ck_zone_far_min_nonnegative")),
        sa.CheckConstraint("far_cap IS NULL OR far_min IS NULL OR far_min <= far_cap",
                           name=op.f("ck_zone_far_min_below_cap")),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_zone_valid_range")),
        sa.PrimaryKeyConstraint("id", "version", name=op.f("pk_zone")),
    )
    op.create_index("uq_zone_current_id", "zone", ["id"], unique=True, postgresql_where=CURRENT)
    op.create_index("uq_zone_current_code", "zone", ["code"], unique=True, postgresql_where=CURRENT)
    op.create_index("ix_zone_current_geom", "zone", ["geom"], postgresql_using="gist", postgresql_where=CURRENT)

    op.execute("CREATE SEQUENCE parcel_id_seq")
    op.create_table(
        "parcel",
        *_versioned(),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("land_use", sa.String(16), nullable=False),
        sa.Column("plot_ratio", sa.Numeric(5, 2), nullable=True),
        sa.Column("plot_ratio_reference_id", sa.BigInteger(), nullable=True),
        sa.Column("plot_ratio_cap", sa.Numeric(5, 2), nullable=True),
        sa.Column("plot_ratio_cap_source", sa.String(16), nullable=True),
        sa.Column("legacy_zone", sa.String(3), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=True),
        sa.Column("tier", sa.String(16), nullable=True),
        sa.Column("zone_id", sa.BigInteger(), nullable=True),
        sa.Column("planning_locked", sa.Boolean(), nullable=False),
        sa.Column("area_m2", sa.Float(), sa.Computed("ST_Area(geom::geography)", persisted=True), nullable=False),
        sa.Column("geom", _geom(), nullable=False),
        sa.CheckConstraint("land_use IN ('industrial', 'rnd', 'office', 'commercial', 'other')",
                           name=op.f("ck_parcel_land_use")),
        sa.CheckConstraint(
            "status IN ('planned', 'supplied', 'under_construction', 'operating', 'rectification', "
            "'exiting', 'recovered')",
            name=op.f("ck_parcel_status"),
        ),
        sa.CheckConstraint("tier IS NULL OR tier IN ('base', 'community', 'fragment')", name=op.f("ck_parcel_tier")),
        sa.CheckConstraint("legacy_zone IS NULL OR legacy_zone IN ('104', '195', '198')",
                           name=op.f("ck_parcel_legacy_zone")),
        sa.CheckConstraint(
            "plot_ratio_cap_source IS NULL OR plot_ratio_cap_source IN ('default', 'zone', 'reference')",
            name=op.f("ck_parcel_cap_source"),
        ),
        sa.CheckConstraint("plot_ratio IS NULL OR (plot_ratio > 0 AND plot_ratio < 100)",
                           name=op.f("ck_parcel_plot_ratio_range")),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_parcel_valid_range")),
        sa.PrimaryKeyConstraint("id", "version", name=op.f("pk_parcel")),
    )
    op.create_index("uq_parcel_current_id", "parcel", ["id"], unique=True, postgresql_where=CURRENT)
    op.create_index("uq_parcel_current_code", "parcel", ["code"], unique=True, postgresql_where=CURRENT)
    op.create_index("ix_parcel_current_geom", "parcel", ["geom"], postgresql_using="gist",
                    postgresql_where=CURRENT)
    op.create_index("ix_parcel_geom", "parcel", ["geom"], postgresql_using="gist")
    op.create_index("ix_parcel_current_district", "parcel", ["district_code"], postgresql_where=CURRENT)
    op.create_index("ix_parcel_current_zone", "parcel", ["zone_id"], postgresql_where=CURRENT)
    op.create_index("ix_parcel_valid_from", "parcel", ["valid_from"])

    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=True),
        sa.Column("full_name", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'bureau', 'district_officer', 'evaluator', 'viewer')",
                           name=op.f("ck_app_user_role")),
        sa.CheckConstraint("(role IN ('district_officer', 'evaluator')) = (district_code IS NOT NULL)",
                           name=op.f("ck_app_user_district_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
    )
    op.create_index("uq_app_user_username", "app_user", [sa.text("lower(username)")], unique=True)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("actor_role", sa.String(24), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("code", sa.String(40), nullable=True),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.Column("detail", postgresql.JSONB(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    # SPEC rule 10: the audit log is append-only, whoever connects.
    op.execute("""
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP USING ERRCODE = '42501';
        END $$
    """)
    op.execute("""
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
    """)

    op.create_table(
        "collection_version",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_collection_version")),
    )
    op.execute("""
        CREATE FUNCTION bump_collection_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO collection_version (name, version, changed_at) VALUES (TG_TABLE_NAME, 1, now())
          ON CONFLICT (name) DO UPDATE SET version = collection_version.version + 1, changed_at = now();
          RETURN NULL;
        END $$
    """)
    for table in ("district", "zone", "parcel"):
        op.execute(f"""
            CREATE TRIGGER {table}_bump_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION bump_collection_version()
        """)

    # No two current industrial/rnd parcels overlap by more than the tolerance (SPEC §2), enforced
    # by the database too. Set-based over the inserted rows (one statement, one query, also for bulk
    # imports); the advisory lock serialises concurrent writers so each sees the other's committed rows.
    op.execute("""
        CREATE FUNCTION parcel_overlap_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          hit record;
          tolerance double precision := coalesce(
            nullif(current_setting('landcycle.overlap_tolerance_m2', true), '')::double precision, 1.0);
        BEGIN
          PERFORM pg_advisory_xact_lock(hashtext('landcycle.parcel_overlap'));
          SELECT n.id AS a, p.id AS b, ST_Area(ST_Intersection(n.geom, p.geom)::geography) AS m2 INTO hit
            FROM new_rows n
            JOIN parcel p ON p.valid_to IS NULL AND p.id <> n.id AND p.land_use IN ('industrial', 'rnd')
                         AND ST_Intersects(n.geom, p.geom)
           WHERE n.valid_to IS NULL AND n.land_use IN ('industrial', 'rnd')
             AND NOT ST_Touches(n.geom, p.geom)
             AND ST_Area(ST_Intersection(n.geom, p.geom)::geography) > tolerance
           LIMIT 1;
          IF FOUND THEN
            RAISE EXCEPTION 'parcel % overlaps parcel % by % m2', hit.a, hit.b, round(hit.m2::numeric, 1)
              USING ERRCODE = '23P01';
          END IF;
          RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER parcel_overlap_guard AFTER INSERT ON parcel REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION parcel_overlap_guard()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS parcel_overlap_guard ON parcel")
    op.execute("DROP FUNCTION IF EXISTS parcel_overlap_guard()")
    for table in ("district", "zone", "parcel"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_version ON {table}")
    op.execute("DROP FUNCTION IF EXISTS bump_collection_version()")
    op.drop_table("collection_version")
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_table("audit_log")
    op.drop_table("app_user")
    op.drop_table("parcel")
    op.execute("DROP SEQUENCE parcel_id_seq")
    op.drop_table("zone")
    op.execute("DROP SEQUENCE zone_id_seq")
    op.drop_table("district")
