"""The user side's tables: accounts and user jobs (in the queue's metadata, so one set of
migrations and one drift check covers both)."""

from __future__ import annotations

from advanced_alchemy.types import BigIntIdentity, DateTimeUTC, JsonB
from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from adapters.sql.tables import metadata

users = Table(
    "users",
    metadata,
    Column("username", String(128), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("groups", JsonB, nullable=False),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
)

user_jobs = Table(
    "user_jobs",
    metadata,
    # AUTOINCREMENT on SQLite: a deleted job's id is never handed out again (its late
    # status reports must not land on another job).
    Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
    Column("username", String(128), nullable=False),
    Column("job_name", String(100), nullable=False),
    Column("environment", String(8)),
    Column("priority", Integer, nullable=False),
    Column("application", String(255), nullable=False),
    Column("version", String(255), nullable=False),
    Column("entrypoint", String(255), nullable=False),
    Column("attributes", JsonB, nullable=False),
    Column("hardware", JsonB, nullable=False),
    Column("status", String(16), nullable=False),
    Column("date_created", DateTimeUTC(timezone=True), nullable=False),
    Column("date_started", DateTimeUTC(timezone=True)),
    Column("date_finished", DateTimeUTC(timezone=True)),
    Column("runtime_details", Text),
    Column("queue_job_id", BigInteger),
    Column("idempotency_key", String(255)),
    Column("webhook_url", String(2000)),  # the job's own webhook (notify.webhook_url)
    UniqueConstraint("username", "job_name", name="uq_user_jobs_job_name"),
    UniqueConstraint("username", "idempotency_key", name="uq_user_jobs_idempotency_key"),
    Index("ix_user_jobs_username_id", "username", "id"),
    Index("ix_user_jobs_queue_job_id", "queue_job_id"),
    sqlite_autoincrement=True,
)

# Where a user is told of their jobs, and the secret that signs their webhooks (any accounts'
# backend: keyed by the username of the token).
user_profiles = Table(
    "user_profiles",
    metadata,
    Column("username", String(128), primary_key=True),
    Column("email", String(2000)),
    Column("webhook_url", String(2000)),
    Column("webhook_secret", String(255), nullable=False),
    Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
)

# Split topology: submissions to a remote worker API, written with the user's job and
# delivered by the user side's scheduler loop (at least once; the key makes it once).
user_outbox = Table(
    "user_outbox",
    metadata,
    Column("id", BigIntIdentity, primary_key=True, autoincrement=True),
    Column("user_job_id", BigInteger, nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("payload", JsonB, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=False),
    Column("last_error", Text),
    Index("ix_user_outbox_user_job_id", "user_job_id"),
)
