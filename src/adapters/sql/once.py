"""Run once on SQL: a keyed submission is an INSERT ... ON CONFLICT DO NOTHING against the
partial unique index `ux_jobs_live_key`, then a read of the job holding the key. The index
decides, so this holds under any concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, delete, exists, literal, select, text, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sql.tables import LIVE_KEY_SQL, job_attempts, jobs
from domain.errors import Conflict
from domain.jobs import Job
from domain.pipelines.keys import JobKey

ADD_ATTEMPTS = 5  # the holder of the key may end between our insert and our read: try again

LIVE_KEY = (
    select(jobs)
    .where(
        jobs.c.namespace == bindparam("namespace"),
        jobs.c.job_key == bindparam("job_key"),
        text(LIVE_KEY_SQL),
    )
    .limit(1)
)


@functools.cache
def insert_once(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the row: no row when the key is taken."""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return dialect_insert(jobs).on_conflict_do_nothing().returning(jobs)


async def add_or_find(
    s: AsyncConnection, dialect: str, row: dict[str, Any]
) -> tuple[Any, bool] | None:
    """(the new row, True), (the row holding the key, False), or None: try again."""
    created = (await s.execute(insert_once(dialect), row)).mappings().one_or_none()
    if created is not None:
        return created, True
    # READ COMMITTED (PostgreSQL) gives this statement a new snapshot: it sees the winner
    # the insert waited for. SQLite serialises writers: the winner has committed.
    found = (await s.execute(LIVE_KEY, row)).mappings().one_or_none()
    return None if found is None else (found, False)


def key_conflict(key: JobKey | None, job_id: int) -> Conflict:
    taken = f"key {key.key!r} in namespace {key.namespace!r}" if key else "its key"
    return Conflict(f"job {job_id} cannot re-run: another job holds {taken}")


async def forget_tries(s: AsyncConnection, job: Job) -> None:
    """A re-run is a new attempt: whoever tried the job before may claim it again."""
    await s.execute(delete(job_attempts).where(job_attempts.c.job_id == job.id))


def add_once_statement() -> Any:
    """PostgreSQL's keyed insert in ONE statement: INSERT ... ON CONFLICT DO NOTHING, and,
    when it inserted nothing, the job holding the key as the statement's snapshot sees it;
    each row with `created`. No row: the holder committed after the snapshot (read again)."""
    inserted = (
        postgresql.insert(jobs)
        .values({column.name: bindparam(column.name) for column in jobs.c if column.name != "id"})
        .on_conflict_do_nothing()
        .returning(*jobs.c)
        .cte("inserted")
    )
    holder = (
        select(*jobs.c, literal(False).label("created"))
        .where(
            jobs.c.namespace == bindparam("namespace"),
            jobs.c.job_key == bindparam("job_key"),
            text(LIVE_KEY_SQL),
            ~exists(select(inserted.c.id)),
        )
        .limit(1)
    )
    return union_all(select(*inserted.c, literal(True).label("created")), holder)
