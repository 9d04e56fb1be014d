"""The queue's tables (SQLAlchemy Core), shared by the store and the migrations check."""

from __future__ import annotations

from advanced_alchemy.types import BigIntIdentity, DateTimeUTC, JsonB
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from domain.matching import CLAIM_ORDER

metadata = MetaData()
# `domain.matching.CLAIM_ORDER` as index keys (migration 0001 restates them).
CLAIM_ORDER_KEYS = [
    text(f"{key.field} DESC") if key.descending else key.field for key in CLAIM_ORDER
]

ACTIVE_SQL = "status IN ('pulled', 'preprocessing', 'running', 'postprocessing')"
QUEUED_SQL = "status = 'queued'"
CANCELED_SQL = "status = 'canceled'"
# A key is taken (`domain.pipelines.keys.KeyScope`) by every job of scope `forever`, and by
# the jobs of scope `active` that are not finished: queued or active (migration 0005 restates).
LIVE_KEY_SQL = (
    "job_key IS NOT NULL AND (key_scope = 'forever' OR status IN "
    "('queued', 'pulled', 'preprocessing', 'running', 'postprocessing'))"
)
QUEUED_IN_NAMESPACE_SQL = "status = 'queued' AND namespace IS NOT NULL"

jobs = Table(
    "jobs",
    metadata,
    Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False),
    Column("environment", String(8)),
    Column("job_group", String(255)),
    Column("priority", Integer, nullable=False),
    # the hardware the job needs, as columns so matching is a WHERE clause
    Column("cpu_cores", Integer),
    Column("memory", BigInteger),
    Column("gpu_model", String(255)),
    Column("gpu_archi", String(255)),
    Column("gpu_mem", BigInteger),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    Column("worker", String(255)),
    Column("last_seen", DateTimeUTC(timezone=True)),
    Column("attempts", Integer, nullable=False),
    Column("runtime_details", Text),
    Column("version", Integer, nullable=False),
    Column("user_job_id", BigInteger, nullable=False),
    Column("spec", JsonB, nullable=False),
    Column("paths_upload", JsonB, nullable=False),
    # run once (migration 0005)
    Column("namespace", String(255)),
    Column("job_key", String(255)),
    Column("key_scope", String(8)),
    Column("owner", String(255)),
    # Claim order over queued jobs only: the pull never sorts, however deep the queue.
    Index(
        "ix_jobs_queued_claim_order",
        *CLAIM_ORDER_KEYS,
        postgresql_where=text(QUEUED_SQL),
        sqlite_where=text(QUEUED_SQL),
    ),
    Index(
        "ix_jobs_queued_group_claim_order",
        "job_group",
        *CLAIM_ORDER_KEYS,
        postgresql_where=text(QUEUED_SQL),
        sqlite_where=text(QUEUED_SQL),
    ),
    Index(
        "ix_jobs_active_lease",
        "last_seen",
        postgresql_where=text(ACTIVE_SQL),
        sqlite_where=text(ACTIVE_SQL),
    ),
    Index(
        "ix_jobs_active_worker",
        "worker",
        postgresql_where=text(ACTIVE_SQL),
        sqlite_where=text(ACTIVE_SQL),
    ),
    # `canceled_under`: a refused download checks the worker's canceled jobs (404: stop).
    Index(
        "ix_jobs_canceled_worker",
        "worker",
        "updated_at",
        postgresql_where=text(CANCELED_SQL),
        sqlite_where=text(CANCELED_SQL),
    ),
    # Run once: at most one job holds a key in a namespace (see LIVE_KEY_SQL).
    Index(
        "ux_jobs_live_key",
        "namespace",
        "job_key",
        unique=True,
        postgresql_where=text(LIVE_KEY_SQL),
        sqlite_where=text(LIVE_KEY_SQL),
    ),
    # A namespace's jobs (a porch pipeline's tasks), listed and looked up by key.
    Index("ix_jobs_namespace_key", "namespace", "job_key"),
    # A namespace's queued jobs, oldest first: the porch claim.
    Index(
        "ix_jobs_queued_namespace",
        "namespace",
        "created_at",
        "id",
        postgresql_where=text(QUEUED_IN_NAMESPACE_SQL),
        sqlite_where=text(QUEUED_IN_NAMESPACE_SQL),
    ),
)

# npg_porch pipelines and their tokens (tasks are jobs: namespace `porch/<name>`).
porch_pipelines = Table(
    "porch_pipelines",
    metadata,
    Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("uri", String(1024), nullable=False),
    Column("version", String(255), nullable=False),
    Column("lease_seconds", Integer),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
)

porch_tokens = Table(
    "porch_tokens",
    metadata,
    Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex
    Column("description", String(255), nullable=False),
    # NULL: an admin token
    Column("pipeline_id", BigInteger, ForeignKey("porch_pipelines.id", ondelete="CASCADE")),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    Column("revoked_at", DateTimeUTC(timezone=True)),
)

job_events = Table(
    "job_events",
    metadata,
    Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
    Column("job_id", BigInteger, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTimeUTC(timezone=True), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("worker", String(255)),
    Column("details", Text),
    Column("notify", Integer, nullable=False),
    Index("ix_job_events_job_id", "job_id", "id"),
)

# Who tried a job: exact identities for RETRY_DIFFERENT (DECODE matched substrings).
job_attempts = Table(
    "job_attempts",
    metadata,
    Column(
        "job_id",
        BigInteger,
        ForeignKey("jobs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("worker", String(255), primary_key=True),
)

# Status updates to forward to the user side, written with the change they report.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
    Column("job_id", BigInteger, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("user_job_id", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("runtime_details", Text),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=False),
    Column("last_error", Text),
    Index("ix_outbox_job_id", "job_id", "id"),
)


# -- notifications (issue 10, item 6) ---------------------------------------------------------
# One row per (user job, status, channel), ever: the unique key makes every enqueue after the
# first a no-op, across retries and restarts. Rows stay after delivery (state 'delivered').
PENDING_SQL = "state = 'pending'"

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
    Column("job_id", BigInteger, nullable=False),  # the user side's job id
    Column("status", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("address", Text, nullable=False),
    Column("secret", Text),
    Column("username", String(255), nullable=False),
    Column("job_name", Text, nullable=False),
    Column("date_created", DateTimeUTC(timezone=True)),
    Column("date_started", DateTimeUTC(timezone=True)),
    Column("date_finished", DateTimeUTC(timezone=True)),
    Column("runtime_details", Text),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=False),
    Column("delivered_at", DateTimeUTC(timezone=True)),
    Column("last_error", Text),
    UniqueConstraint("job_id", "status", "channel", name="uq_notifications_job_status_channel"),
    Index(
        "ix_notifications_due",
        "next_attempt_at",
        "id",
        postgresql_where=text(PENDING_SQL),
        sqlite_where=text(PENDING_SQL),
    ),
)

# The scheduler's leadership: one row; the holder acts while `expires_at` (seconds since the
# epoch on the DATABASE's clock) is ahead, and every write it makes checks (holder, epoch).
scheduler_lease = Table(
    "scheduler_lease",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(255)),
    Column("epoch", BigInteger, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# The user side's tables join this metadata (one migration chain, one drift check).
import adapters.sql.user_tables  # noqa: E402, F401
