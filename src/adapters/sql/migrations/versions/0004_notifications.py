"""Notifications of job status changes: one row per (user job, status, channel), ever.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import BigIntIdentity, DateTimeUTC
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "state = 'pending'"


def upgrade() -> None:
    _create_notifications()
    _index_due()
    _eager_autovacuum()


def _create_notifications() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text()),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("job_name", sa.Text(), nullable=False),
        sa.Column("date_created", DateTimeUTC(timezone=True)),
        sa.Column("date_started", DateTimeUTC(timezone=True)),
        sa.Column("date_finished", DateTimeUTC(timezone=True)),
        sa.Column("runtime_details", sa.Text()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("delivered_at", DateTimeUTC(timezone=True)),
        sa.Column("last_error", sa.Text()),
        sa.UniqueConstraint(
            "job_id", "status", "channel", name="uq_notifications_job_status_channel"
        ),
    )


def _index_due() -> None:
    """The pending notifications, by when they are due."""
    where = sa.text(PENDING)
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at", "id"],
        postgresql_where=where,
        sqlite_where=where,
    )


def _eager_autovacuum() -> None:
    """A churning table: vacuumed and analyzed early (as the queue's tables, 0002)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE notifications SET (autovacuum_vacuum_scale_factor = 0.01, "
            "autovacuum_analyze_scale_factor = 0.01)"
        )


def downgrade() -> None:
    op.drop_index("ix_notifications_due", table_name="notifications")
    op.drop_table("notifications")
