"""The user API: accounts and user jobs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import BigIntIdentity, DateTimeUTC, JsonB
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _create_users()
    _create_user_jobs()
    _create_user_outbox()


def _create_users() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(128), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("groups", JsonB, nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    )


def _create_user_jobs() -> None:
    op.create_table(
        "user_jobs",
        sa.Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("job_name", sa.String(100), nullable=False),
        sa.Column("environment", sa.String(8)),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("application", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("entrypoint", sa.String(255), nullable=False),
        sa.Column("attributes", JsonB, nullable=False),
        sa.Column("hardware", JsonB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("date_created", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("date_started", DateTimeUTC(timezone=True)),
        sa.Column("date_finished", DateTimeUTC(timezone=True)),
        sa.Column("runtime_details", sa.Text),
        sa.Column("queue_job_id", sa.BigInteger),
        sa.Column("idempotency_key", sa.String(255)),
        sa.UniqueConstraint("username", "job_name", name="uq_user_jobs_job_name"),
        sa.UniqueConstraint("username", "idempotency_key", name="uq_user_jobs_idempotency_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_user_jobs_username_id", "user_jobs", ["username", "id"])
    op.create_index("ix_user_jobs_queue_job_id", "user_jobs", ["queue_job_id"])


def _create_user_outbox() -> None:
    op.create_table(
        "user_outbox",
        sa.Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
        sa.Column("user_job_id", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("payload", JsonB, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_user_outbox_user_job_id", "user_outbox", ["user_job_id"])


def downgrade() -> None:
    op.drop_table("user_outbox")
    op.drop_table("user_jobs")
    op.drop_table("users")
