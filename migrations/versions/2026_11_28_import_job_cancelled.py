"""An import job may be cancelled (issue 7): `import_job.status` gains `cancelled`.

A user who started the wrong file stops it with `DELETE /api/v1/imports/{id}`; nothing of it is written
(app/imports/jobs.py). Downgrading turns cancelled jobs into failed ones, with the reason kept in `error`.

Revision ID: 0009_import_job_cancelled
Revises: 0008_parcel_measures_kept
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_import_job_cancelled"
down_revision: str | None = "0008_parcel_measures_kept"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_CANCELLED = "status IN ('queued', 'running', 'succeeded', 'refused', 'failed', 'cancelled')"
BEFORE = "status IN ('queued', 'running', 'succeeded', 'refused', 'failed')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_import_job_status"), "import_job", type_="check")
    op.create_check_constraint(op.f("ck_import_job_status"), "import_job", WITH_CANCELLED)


def downgrade() -> None:
    op.execute("UPDATE import_job SET status = 'failed' WHERE status = 'cancelled'")
    op.drop_constraint(op.f("ck_import_job_status"), "import_job", type_="check")
    op.create_check_constraint(op.f("ck_import_job_status"), "import_job", BEFORE)
