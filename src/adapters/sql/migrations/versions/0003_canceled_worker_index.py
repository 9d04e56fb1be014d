"""Jobs canceled under a worker, by worker: a refused download looks there (404, not 403,
for an input of a job the user deleted while the worker held it) without a table scan.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CANCELED = "status = 'canceled'"


def upgrade() -> None:
    where = sa.text(CANCELED)
    op.create_index(
        "ix_jobs_canceled_worker",
        "jobs",
        ["worker", "updated_at"],
        postgresql_where=where,
        sqlite_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_canceled_worker", table_name="jobs")
