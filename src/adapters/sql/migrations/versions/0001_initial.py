"""The queue: jobs, their events and attempts, and the status outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import BigIntIdentity, DateTimeUTC, JsonB
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = "status = 'queued'"
ACTIVE = "status IN ('pulled', 'preprocessing', 'running', 'postprocessing')"


def _partial_index(name: str, columns: list[str | sa.TextClause], condition: str) -> None:
    where = sa.text(condition)
    op.create_index(name, "jobs", columns, postgresql_where=where, sqlite_where=where)


def upgrade() -> None:
    _create_jobs()
    _index_jobs()
    _create_job_events()
    _create_job_attempts()
    _create_outbox()


def _create_jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("environment", sa.String(8)),
        sa.Column("job_group", sa.String(255)),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("cpu_cores", sa.Integer()),
        sa.Column("memory", sa.BigInteger()),
        sa.Column("gpu_model", sa.String(255)),
        sa.Column("gpu_archi", sa.String(255)),
        sa.Column("gpu_mem", sa.BigInteger()),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("worker", sa.String(255)),
        sa.Column("last_seen", DateTimeUTC(timezone=True)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("runtime_details", sa.Text()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("user_job_id", sa.BigInteger(), nullable=False),
        sa.Column("spec", JsonB, nullable=False),
        sa.Column("paths_upload", JsonB, nullable=False),
    )


def _index_jobs() -> None:
    """The claim order over queued jobs, and the active jobs' leases and workers."""
    _partial_index(
        "ix_jobs_queued_claim_order", [sa.text("priority DESC"), "created_at", "id"], QUEUED
    )
    _partial_index(
        "ix_jobs_queued_group_claim_order",
        ["job_group", sa.text("priority DESC"), "created_at", "id"],
        QUEUED,
    )
    _partial_index("ix_jobs_active_lease", ["last_seen"], ACTIVE)
    _partial_index("ix_jobs_active_worker", ["worker"], ACTIVE)


def _create_job_events() -> None:
    op.create_table(
        "job_events",
        sa.Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
        sa.Column(
            "job_id", sa.BigInteger(), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("worker", sa.String(255)),
        sa.Column("details", sa.Text()),
        sa.Column("notify", sa.Integer(), nullable=False),
    )
    op.create_index("ix_job_events_job_id", "job_events", ["job_id", "id"])


def _create_job_attempts() -> None:
    op.create_table(
        "job_attempts",
        sa.Column(
            "job_id",
            sa.BigInteger(),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("worker", sa.String(255), primary_key=True),
    )


def _create_outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
        sa.Column(
            "job_id", sa.BigInteger(), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("user_job_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("runtime_details", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_outbox_job_id", "outbox", ["job_id", "id"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("job_attempts")
    op.drop_table("job_events")
    op.drop_table("jobs")
