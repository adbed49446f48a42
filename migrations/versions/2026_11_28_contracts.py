"""Contracts: enterprises, responsible organisations, contracts (versioned) with indicator targets,
evaluations and exit cases (issue 3; SPEC rules 2 and 4–8).

Revision ID: 0002_contracts
Revises: 0001_initial
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_contracts"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = sa.text("valid_to IS NULL")
PENDING = sa.text("evaluated_on IS NULL AND cancelled_on IS NULL")
INDICATORS = ("investment_intensity", "output_per_mu", "tax_per_mu", "energy_per_value_added",
              "emissions_per_value_added", "rnd_intensity", "jobs")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "enterprise",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("industry_code", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.CheckConstraint("uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name=op.f("ck_enterprise_uscc_format")),
        sa.CheckConstraint("industry_code ~ '^[A-Z]?[0-9]{2,4}$'",
                           name=op.f("ck_enterprise_industry_code_format")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise")),
    )
    op.create_index("uq_enterprise_uscc", "enterprise", ["uscc"], unique=True)
    op.create_index("ix_enterprise_industry_code", "enterprise", ["industry_code"])

    op.create_table(
        "organisation",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.CheckConstraint(
            _in("kind", ("district_government", "park_committee", "industry_department", "bureau")),
            name=op.f("ck_organisation_kind")),
        sa.CheckConstraint("kind <> 'district_government' OR district_code IS NOT NULL",
                           name=op.f("ck_organisation_district_government_district")),
        sa.CheckConstraint("district_code IS NULL OR district_code ~ '^[0-9]{6}$'",
                           name=op.f("ck_organisation_district_code_format")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
    )

    op.execute("CREATE SEQUENCE contract_id_seq")
    op.create_table(
        "contract",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_by", sa.String(64), nullable=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=False),
        sa.Column("responsible_org_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("supply_method", sa.String(20), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("term_years", sa.Integer(), nullable=False),
        sa.Column("evaluation_interval_years", sa.Integer(), nullable=False),
        sa.Column("commissioning_years", sa.Integer(), nullable=False),
        sa.Column("start_by", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(),
                  sa.Computed("(signed_on + make_interval(years => term_years))::date", persisted=True),
                  nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rectify_by", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("terms_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(_in("kind", ("new_supply", "renewal", "transfer")), name=op.f("ck_contract_kind")),
        sa.CheckConstraint(_in("supply_method", ("grant", "lease", "lease_then_grant")),
                           name=op.f("ck_contract_supply_method")),
        sa.CheckConstraint(_in("status", ("active", "rectification", "exiting", "terminated", "expired")),
                           name=op.f("ck_contract_status")),
        sa.CheckConstraint("term_years BETWEEN 1 AND 50", name=op.f("ck_contract_term_range")),
        sa.CheckConstraint("evaluation_interval_years BETWEEN 3 AND 5",
                           name=op.f("ck_contract_interval_range")),
        sa.CheckConstraint("commissioning_years BETWEEN 1 AND 10",
                           name=op.f("ck_contract_commissioning_range")),
        sa.CheckConstraint("(status = 'rectification') = (rectify_by IS NOT NULL)",
                           name=op.f("ck_contract_rectify_by_iff_rectification")),
        sa.CheckConstraint("(status IN ('active', 'rectification')) = (ended_on IS NULL)",
                           name=op.f("ck_contract_ended_iff_out_of_force")),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from",
                           name=op.f("ck_contract_valid_range")),
        sa.CheckConstraint("terms_version BETWEEN 1 AND version",
                           name=op.f("ck_contract_terms_version_range")),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"],
                                name=op.f("fk_contract_enterprise_id_enterprise")),
        sa.ForeignKeyConstraint(["responsible_org_id"], ["organisation.id"],
                                name=op.f("fk_contract_responsible_org_id_organisation")),
        sa.PrimaryKeyConstraint("id", "version", name=op.f("pk_contract")),
    )
    op.create_index("uq_contract_current_id", "contract", ["id"], unique=True, postgresql_where=CURRENT)
    op.create_index("uq_contract_current_code", "contract", ["code"], unique=True, postgresql_where=CURRENT)
    # SPEC §6 CONTRACT_CONFLICT, guaranteed by the database too: one holding contract per parcel.
    op.create_index("uq_contract_holding_parcel", "contract", ["parcel_id"], unique=True,
                    postgresql_where=sa.text(
                        "valid_to IS NULL AND status IN ('active', 'rectification', 'exiting')"))
    op.create_index("ix_contract_parcel_id", "contract", ["parcel_id"])
    op.create_index("ix_contract_current_enterprise", "contract", ["enterprise_id"], postgresql_where=CURRENT)
    op.create_index("ix_contract_valid_from", "contract", ["valid_from"])

    op.create_table(
        "contract_indicator",
        sa.Column("contract_id", sa.BigInteger(), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("target", sa.Numeric(16, 4), nullable=False),
        sa.CheckConstraint(_in("code", INDICATORS), name=op.f("ck_contract_indicator_code")),
        sa.CheckConstraint("target >= 0", name=op.f("ck_contract_indicator_target_nonnegative")),
        sa.ForeignKeyConstraint(["contract_id", "contract_version"], ["contract.id", "contract.version"],
                                name=op.f("fk_contract_indicator_contract_id_contract"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contract_id", "contract_version", "code",
                                name=op.f("pk_contract_indicator")),
    )

    op.create_table(
        "evaluation",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("contract_id", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("evaluated_on", sa.Date(), nullable=True),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("measurements", postgresql.JSONB(), nullable=True),
        sa.Column("attainment", postgresql.JSONB(), nullable=True),
        sa.Column("ratios", postgresql.JSONB(), nullable=True),
        sa.Column("peer_groups", postgresql.JSONB(), nullable=True),
        sa.Column("consequence", sa.String(16), nullable=True),
        sa.Column("exit_reason", sa.String(32), nullable=True),
        sa.Column("evidence", postgresql.ARRAY(sa.BigInteger()), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("evaluated_by", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(_in("stage", ("commissioning", "periodic", "rectification", "expiry")),
                           name=op.f("ck_evaluation_stage")),
        sa.CheckConstraint("outcome IS NULL OR outcome IN ('pass', 'below_bottom_line')",
                           name=op.f("ck_evaluation_outcome")),
        sa.CheckConstraint(
            "consequence IS NULL OR consequence IN ('none', 'rectification', 'restored', 'exit_candidate')",
            name=op.f("ck_evaluation_consequence")),
        sa.CheckConstraint(
            "exit_reason IS NULL OR exit_reason IN "
            "('repeated_below_bottom_line', 'failed_rectification', 'expired', 'idle_land')",
            name=op.f("ck_evaluation_exit_reason")),
        sa.CheckConstraint("(evaluated_on IS NULL) = (outcome IS NULL)",
                           name=op.f("ck_evaluation_result_complete")),
        sa.CheckConstraint("evaluated_on IS NULL OR cancelled_on IS NULL",
                           name=op.f("ck_evaluation_completed_or_cancelled")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation")),
    )
    op.create_index("ix_evaluation_contract_result", "evaluation", ["contract_id", "evaluated_on"])
    op.create_index("ix_evaluation_pending_due", "evaluation", ["due_on"], postgresql_where=PENDING)
    op.create_index("uq_evaluation_contract_stage_seq", "evaluation", ["contract_id", "stage", "seq"],
                    unique=True, postgresql_where=sa.text("cancelled_on IS NULL"))

    op.create_table(
        "exit_case",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("contract_id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("decision_ref", sa.Text(), nullable=False),
        sa.Column("reasons", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("evidence", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("completed_by", sa.String(64), nullable=True),
        sa.Column("transfer_contract_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("method IN ('recovery', 'buyback', 'transfer')", name=op.f("ck_exit_case_method")),
        sa.CheckConstraint("status IN ('open', 'completed')", name=op.f("ck_exit_case_status")),
        sa.CheckConstraint("(status = 'completed') = (completed_on IS NOT NULL)",
                           name=op.f("ck_exit_case_completed_on_iff_completed")),
        sa.CheckConstraint("completed_on IS NULL OR completed_on >= opened_on",
                           name=op.f("ck_exit_case_completed_after_opened")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exit_case")),
    )
    op.create_index("uq_exit_case_open_contract", "exit_case", ["contract_id"], unique=True,
                    postgresql_where=sa.text("status = 'open'"))
    op.create_index("ix_exit_case_contract_id", "exit_case", ["contract_id"])

    for table in ("contract", "evaluation", "exit_case"):
        op.execute(f"""
            CREATE TRIGGER {table}_bump_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION bump_collection_version()
        """)


def downgrade() -> None:
    for table in ("contract", "evaluation", "exit_case"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_version ON {table}")
    op.drop_table("exit_case")
    op.drop_table("evaluation")
    op.drop_table("contract_indicator")
    op.drop_table("contract")
    op.execute("DROP SEQUENCE contract_id_seq")
    op.drop_table("organisation")
    op.drop_table("enterprise")
