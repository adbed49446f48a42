"""Plot-ratio adjustment requests (rule 9).

Revision ID: 0003_plot_ratio_requests
Revises: 0002_contracts
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_plot_ratio_requests"
down_revision: str | None = "0002_contracts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plot_ratio_request",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_code", sa.String(40), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=True),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_plot_ratio", sa.Numeric(5, 2), nullable=True),
        sa.Column("requested_plot_ratio", sa.Numeric(5, 2), nullable=False),
        sa.Column("default_cap", sa.Numeric(5, 2), nullable=False),
        sa.Column("reference_parcel_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("notice_starts_on", sa.Date(), nullable=True),
        sa.Column("notice_ends_on", sa.Date(), nullable=True),
        sa.Column("notice_recorded_by", sa.String(64), nullable=True),
        sa.Column("notice_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parcel_version_applied", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("route IN ('district', 'city')", name=op.f("ck_plot_ratio_request_route")),
        sa.CheckConstraint("status IN ('submitted', 'public_notice', 'approved', 'rejected', 'withdrawn')",
                           name=op.f("ck_plot_ratio_request_status")),
        sa.CheckConstraint("requested_plot_ratio > 0", name=op.f("ck_plot_ratio_request_requested_positive")),
        sa.CheckConstraint("notice_ends_on IS NULL OR notice_ends_on >= notice_starts_on",
                           name=op.f("ck_plot_ratio_request_notice_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plot_ratio_request")),
    )
    op.create_index("uq_plot_ratio_request_open_parcel", "plot_ratio_request", ["parcel_id"], unique=True,
                    postgresql_where=sa.text("status IN ('submitted', 'public_notice')"))
    op.create_index("ix_plot_ratio_request_status", "plot_ratio_request", ["status"])
    op.create_index("ix_plot_ratio_request_district", "plot_ratio_request", ["district_code"])


def downgrade() -> None:
    op.drop_table("plot_ratio_request")
