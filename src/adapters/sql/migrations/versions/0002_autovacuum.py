"""Queue tables churn: vacuum and analyze them early.

Without fresh statistics right after a burst of submissions, PostgreSQL believes the jobs
table is nearly empty and plans the claim as a sort plus an anti join over every attempt
(measured: 15 ms per claim growing to 76 ms after 500 claims on 3,000 jobs) instead of a
walk of the claim-order index (0.1 ms).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("jobs", "job_attempts", "job_events", "outbox")
EAGER = (
    "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 100, "
    "autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 100"
)
RESET = (
    "autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, "
    "autovacuum_analyze_scale_factor, autovacuum_analyze_threshold"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET ({EAGER})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({RESET})")
