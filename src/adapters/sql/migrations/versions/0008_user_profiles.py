"""Notification profiles of users (e-mail, webhook, webhook secret) and a job's own webhook.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_profiles",
        sa.Column("username", sa.String(128), primary_key=True),
        sa.Column("email", sa.String(2000)),
        sa.Column("webhook_url", sa.String(2000)),
        sa.Column("webhook_secret", sa.String(255), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    )
    # a plain ADD COLUMN (a batch would rebuild the table, and SQLite's AUTOINCREMENT)
    op.add_column("user_jobs", sa.Column("webhook_url", sa.String(2000)))


def downgrade() -> None:
    with op.batch_alter_table("user_jobs") as batch:
        batch.drop_column("webhook_url")
    op.drop_table("user_profiles")
