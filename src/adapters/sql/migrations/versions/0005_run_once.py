"""Run once: definition keys on jobs (unique while live), owners, npg_porch pipelines and
tokens.

A key is taken by every job of scope `forever`, and by the jobs of scope `active` that are not
finished (queued, pulled, preprocessing, running, postprocessing): one partial unique index.

Revision ID: 0005
Revises: 0004 (main's head when rebased; the brief said 0002)
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import BigIntIdentity, DateTimeUTC
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_KEY = (
    "job_key IS NOT NULL AND (key_scope = 'forever' OR status IN "
    "('queued', 'pulled', 'preprocessing', 'running', 'postprocessing'))"
)
QUEUED_IN_NAMESPACE = "status = 'queued' AND namespace IS NOT NULL"


def upgrade() -> None:
    _add_key_columns()
    _index_keys()
    _create_porch_pipelines()
    _create_porch_tokens()


def _add_key_columns() -> None:
    with op.batch_alter_table("jobs") as jobs:
        jobs.add_column(sa.Column("namespace", sa.String(255)))
        jobs.add_column(sa.Column("job_key", sa.String(255)))
        jobs.add_column(sa.Column("key_scope", sa.String(8)))
        jobs.add_column(sa.Column("owner", sa.String(255)))


def _index_keys() -> None:
    """A live key taken once; jobs by key; queued jobs by namespace."""
    live, queued = sa.text(LIVE_KEY), sa.text(QUEUED_IN_NAMESPACE)
    op.create_index(
        "ux_jobs_live_key",
        "jobs",
        ["namespace", "job_key"],
        unique=True,
        postgresql_where=live,
        sqlite_where=live,
    )
    op.create_index("ix_jobs_namespace_key", "jobs", ["namespace", "job_key"])
    op.create_index(
        "ix_jobs_queued_namespace",
        "jobs",
        ["namespace", "created_at", "id"],
        postgresql_where=queued,
        sqlite_where=queued,
    )


def _create_porch_pipelines() -> None:
    op.create_table(
        "porch_pipelines",
        sa.Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("uri", sa.String(1024), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("lease_seconds", sa.Integer()),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    )


def _create_porch_tokens() -> None:
    op.create_table(
        "porch_tokens",
        sa.Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column(
            "pipeline_id",
            sa.BigInteger(),
            sa.ForeignKey("porch_pipelines.id", ondelete="CASCADE"),
        ),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("revoked_at", DateTimeUTC(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("porch_tokens")
    op.drop_table("porch_pipelines")
    op.drop_index("ix_jobs_queued_namespace", "jobs")
    op.drop_index("ix_jobs_namespace_key", "jobs")
    op.drop_index("ux_jobs_live_key", "jobs")
    with op.batch_alter_table("jobs") as jobs:
        for column in ("owner", "key_scope", "job_key", "namespace"):
            jobs.drop_column(column)
