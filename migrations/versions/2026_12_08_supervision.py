"""Many departments feed one evaluation, and who proposes manages (issue 23; SPEC §1 谁提出、谁管理).

- Two roles: `org_manager` (scoped to one responsible organisation, `app_user.organisation_id`) and
  `data_provider` (one department's figures, `app_user.source`).
- Delivered figures: `measurement_batch` (one delivery: department, year, format, counts, refused rows) and
  `measurement` (one value of an enterprise or a contract, with its source, year and batch).
- `evaluation.measurement_sources`: where each measured value of a result came from.
- 亩均 ratings: `rating_run` (a year rated, with the policy numbers used) and `rating` (an enterprise's land,
  figures, indicators, score and A–D class that year).

Revision ID: 0011_supervision
Revises: 0010_parcel_overlap_cells
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_supervision"
down_revision: str | None = "0010_parcel_overlap_cells"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("admin", "bureau", "district_officer", "evaluator", "viewer", "org_manager", "data_provider")
ROLES_BEFORE = ("admin", "bureau", "district_officer", "evaluator", "viewer")
SOURCES = ("tax", "statistics", "energy", "environment")
FIGURES = ("tax_paid", "output_value", "value_added", "rnd_spending", "jobs", "fixed_investment", "energy_use",
           "emissions")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.add_column("app_user", sa.Column("organisation_id", sa.BigInteger(), nullable=True))
    op.add_column("app_user", sa.Column("source", sa.String(16), nullable=True))
    op.create_foreign_key(op.f("fk_app_user_organisation_id_organisation"), "app_user", "organisation",
                          ["organisation_id"], ["id"])
    op.drop_constraint(op.f("ck_app_user_role"), "app_user", type_="check")
    op.create_check_constraint(op.f("ck_app_user_role"), "app_user", _in("role", ROLES))
    op.create_check_constraint(op.f("ck_app_user_organisation_scope"), "app_user",
                               "(role = 'org_manager') = (organisation_id IS NOT NULL)")
    op.create_check_constraint(op.f("ck_app_user_source_scope"), "app_user",
                               "(role = 'data_provider') = (source IS NOT NULL)")
    op.create_check_constraint(op.f("ck_app_user_source"), "app_user",
                               f"source IS NULL OR {_in('source', SOURCES)}")

    op.create_table(
        "measurement_batch",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("skip_invalid", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("report", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("delivered_by", sa.String(64), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(_in("source", SOURCES), name=op.f("ck_measurement_batch_source")),
        sa.CheckConstraint(_in("format", ("json", "csv", "xlsx")), name=op.f("ck_measurement_batch_format")),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name=op.f("ck_measurement_batch_year_range")),
        sa.CheckConstraint("accepted + refused = rows", name=op.f("ck_measurement_batch_counts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement_batch")),
    )
    op.create_index("ix_measurement_batch_year_source", "measurement_batch", ["year", "source"])

    op.create_table(
        "measurement",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=True),
        sa.Column("contract_id", sa.BigInteger(), nullable=True),
        sa.Column("figure", sa.String(24), nullable=False),
        sa.Column("value", sa.Numeric(20, 4), nullable=False),
        sa.CheckConstraint(_in("figure", FIGURES), name=op.f("ck_measurement_figure")),
        sa.CheckConstraint("value >= 0", name=op.f("ck_measurement_value_nonnegative")),
        sa.CheckConstraint("(enterprise_id IS NULL) <> (contract_id IS NULL)",
                           name=op.f("ck_measurement_one_subject")),
        sa.ForeignKeyConstraint(["batch_id"], ["measurement_batch.id"], ondelete="CASCADE",
                                name=op.f("fk_measurement_batch_id_measurement_batch")),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"],
                                name=op.f("fk_measurement_enterprise_id_enterprise")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement")),
    )
    op.create_index("ix_measurement_enterprise", "measurement", ["year", "enterprise_id", "figure", "batch_id"],
                    postgresql_where=sa.text("enterprise_id IS NOT NULL"))
    op.create_index("ix_measurement_contract", "measurement", ["year", "contract_id", "figure", "batch_id"],
                    postgresql_where=sa.text("contract_id IS NOT NULL"))
    op.create_index("ix_measurement_batch", "measurement", ["batch_id"])

    op.add_column("evaluation", sa.Column("measurement_sources", postgresql.JSONB(), nullable=True))

    op.create_table(
        "rating_run",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("policy", postgresql.JSONB(), nullable=False),
        sa.Column("enterprises", sa.Integer(), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False),
        sa.Column("rated_by", sa.String(64), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name=op.f("ck_rating_run_year_range")),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_rating_run")),
    )
    op.create_table(
        "rating",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=True),
        sa.Column("land_m2", sa.Numeric(16, 2), nullable=False),
        sa.Column("land_mu", sa.Numeric(14, 4), nullable=False),
        sa.Column("figures", postgresql.JSONB(), nullable=False),
        sa.Column("indicators", postgresql.JSONB(), nullable=False),
        sa.Column("score", sa.Numeric(10, 4), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("group_size", sa.Integer(), nullable=True),
        sa.Column("class", sa.String(1), nullable=True),
        sa.Column("unrated_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("class IS NULL OR class IN ('A', 'B', 'C', 'D')", name=op.f("ck_rating_class")),
        sa.CheckConstraint("(class IS NULL) = (unrated_reason IS NOT NULL)",
                           name=op.f("ck_rating_rated_or_reason")),
        sa.ForeignKeyConstraint(["year"], ["rating_run.year"], ondelete="CASCADE",
                                name=op.f("fk_rating_year_rating_run")),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"], name=op.f("fk_rating_enterprise_id_enterprise")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating")),
    )
    op.create_index("uq_rating_year_enterprise", "rating", ["year", "enterprise_id"], unique=True)
    op.create_index("ix_rating_enterprise_year", "rating", ["enterprise_id", "year"])


def downgrade() -> None:
    op.drop_table("rating")
    op.drop_table("rating_run")
    op.drop_column("evaluation", "measurement_sources")
    op.drop_table("measurement")
    op.drop_table("measurement_batch")
    op.execute("DELETE FROM app_user WHERE role IN ('org_manager', 'data_provider')")
    for name in ("source", "source_scope", "organisation_scope", "role"):
        op.drop_constraint(op.f(f"ck_app_user_{name}"), "app_user", type_="check")
    op.create_check_constraint(op.f("ck_app_user_role"), "app_user", _in("role", ROLES_BEFORE))
    op.drop_constraint(op.f("fk_app_user_organisation_id_organisation"), "app_user", type_="foreignkey")
    op.drop_column("app_user", "source")
    op.drop_column("app_user", "organisation_id")
