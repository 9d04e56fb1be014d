"""The claim: ONE statement that picks matching queued jobs and marks them pulled.

PostgreSQL: UPDATE ... WHERE id IN (SELECT ... ORDER BY ... LIMIT n FOR UPDATE SKIP LOCKED)
RETURNING ...: concurrent claimers skip each other's rows instead of waiting or doubling.
SQLite: the same UPDATE ... RETURNING without row locks (SQLite serialises writers).
The matching rules mirror `domain.matching`; the store contract suite holds them equal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql.tables import job_attempts, jobs
from domain.jobs import Status
from domain.matching import WorkerOffer


def _matching(
    offer: WorkerOffer, now: datetime, *, retry_different: bool, groups: frozenset[str] | None
) -> list[Any]:
    c = jobs.c
    conditions = [
        c.status == Status.QUEUED.value,
        or_(c.cpu_cores.is_(None), c.cpu_cores <= offer.cpu_cores),
        or_(c.memory.is_(None), c.memory <= offer.memory),
        or_(c.gpu_mem.is_(None), c.gpu_mem <= offer.gpu_mem),
        or_(c.gpu_model.is_(None), c.gpu_model == offer.gpu_model),
        or_(c.gpu_archi.is_(None), c.gpu_archi == offer.gpu_archi),
        or_(
            c.environment == offer.environment.value,
            and_(c.environment.is_(None), c.created_at <= offer.any_environment_cutoff(now)),
        ),
    ]
    if retry_different:
        tried = exists().where(job_attempts.c.job_id == c.id, job_attempts.c.worker == offer.worker)
        conditions.append(~tried)
    if groups is not None:
        conditions.append(c.job_group.in_(sorted(groups)))
    return conditions


def claim_statement(
    dialect: str,
    offer: WorkerOffer,
    limit: int,
    now: datetime,
    *,
    retry_different: bool,
    groups: frozenset[str] | None = None,
) -> Any:
    """UPDATE ... RETURNING the claimed rows (in no particular order)."""
    c = jobs.c
    picked = (
        select(c.id)
        .where(*_matching(offer, now, retry_different=retry_different, groups=groups))
        .order_by(c.priority.desc(), c.created_at, c.id)
        .limit(limit)
    )
    if dialect == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    return (
        update(jobs)
        .where(c.id.in_(picked.scalar_subquery()))
        .values(
            status=Status.PULLED.value,
            worker=offer.worker,
            last_seen=now,
            updated_at=now,
            attempts=c.attempts + 1,
            version=c.version + 1,
        )
        .returning(jobs)
    )


def insert_ignore(dialect: str, table: Table) -> Any:
    """INSERT that skips rows whose key exists (a worker re-claiming a job it tried)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
