"""The claim: ONE statement that picks matching queued jobs and marks them pulled.

PostgreSQL (`adapters.sql.postgres`): UPDATE ... WHERE id = ANY(ARRAY(SELECT ... ORDER BY ...
LIMIT n FOR UPDATE SKIP LOCKED)) RETURNING ...: concurrent claimers skip each other's rows
instead of waiting or doubling. SQLite (`claim_statement`): UPDATE ... WHERE id IN (SELECT ...)
RETURNING ..., without row locks (SQLite serialises writers).
The matching rules mirror `domain.matching`; the store contract suite holds them equal.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    exists,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite

from adapters.sql.codec import job_from_row
from adapters.sql.tables import QUEUED_SQL, job_attempts, jobs
from domain.jobs import Job, Status
from domain.matching import CLAIM_ORDER, WorkerOffer, order_values

_TIME = DateTimeUTC(timezone=True)


def matching(
    *, retry_different: bool, by_group: bool, groups_array: bool = False, batch: bool = False
) -> list[Any]:
    """The WHERE clause of a claim. `groups_array`: `p_groups` is one array parameter
    (`= ANY(...)`, for statements prepared once) rather than an expanding IN list. `batch`:
    the claim serves the workers of the array `p_workers`, none of them given a job that any
    of them tried."""
    c = jobs.c
    conditions = [
        # Literal SQL, not a parameter: only then can a statement prepared once (and SQLite's
        # planner) prove that the partial claim-order index over queued jobs applies.
        text(QUEUED_SQL),
        or_(c.cpu_cores.is_(None), c.cpu_cores <= bindparam("p_cpu_cores")),
        or_(c.memory.is_(None), c.memory <= bindparam("p_memory")),
        or_(c.gpu_mem.is_(None), c.gpu_mem <= bindparam("p_gpu_mem")),
        or_(c.gpu_model.is_(None), c.gpu_model == bindparam("p_gpu_model")),
        or_(c.gpu_archi.is_(None), c.gpu_archi == bindparam("p_gpu_archi")),
        or_(
            c.environment == bindparam("p_environment"),
            and_(c.environment.is_(None), c.created_at <= bindparam("p_cutoff", type_=_TIME)),
        ),
    ]
    if retry_different:
        worker = (
            job_attempts.c.worker == any_(bindparam("p_workers", type_=ARRAY(String)))
            if batch
            else job_attempts.c.worker == bindparam("p_worker")
        )
        # Only a job claimed before has been tried by anyone: for the others (nearly all),
        # nothing is looked up. What is, is looked up by key, job by job: OFFSET 0 keeps
        # PostgreSQL from turning the lookup into a hash of every attempt of the workers
        # (a scan of the table that a plan made while it was small would keep doing).
        tried = exists(select(literal(1)).where(job_attempts.c.job_id == c.id, worker).offset(0))
        conditions.append(or_(c.attempts == 0, ~tried))
    if by_group and groups_array:
        conditions.append(c.job_group == any_(bindparam("p_groups", type_=ARRAY(String))))
    elif by_group:
        conditions.append(c.job_group.in_(bindparam("p_groups", expanding=True)))
    return conditions


@functools.cache
def claim_statement(*, retry_different: bool, by_group: bool) -> Any:
    """UPDATE ... RETURNING the claimed rows (in no particular order); built once per shape,
    so SQLAlchemy neither rebuilds nor re-keys it on the hot path. Parameters: `claim_params`."""
    c = jobs.c
    # SQLite renders no FOR UPDATE: it has no row locks, and serialises writers instead.
    ids = picked(retry_different=retry_different, by_group=by_group)
    return update(jobs).where(c.id.in_(ids.scalar_subquery())).values(**claimed()).returning(jobs)


def picked(
    *, retry_different: bool, by_group: bool, groups_array: bool = False, batch: bool = False
) -> Any:
    """The ids of up to `p_limit` matching queued jobs, in claim order, that no concurrent
    claimer holds (PostgreSQL's SKIP LOCKED); for a `batch`, with their claim-order columns."""
    c = jobs.c
    columns = [c.id, *CLAIM_ORDER_COLUMNS] if batch else [c.id]
    conditions = matching(
        retry_different=retry_different, by_group=by_group, groups_array=groups_array, batch=batch
    )
    return (
        select(*columns)
        .where(*conditions)
        .order_by(*claim_order(c))
        .limit(bindparam("p_limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )


CLAIM_ORDER_COLUMNS = tuple(jobs.c[key.field] for key in CLAIM_ORDER if key.field != "id")


def claim_order(columns: Any) -> list[Any]:
    """`domain.matching.CLAIM_ORDER` as ORDER BY terms; `columns`: those of `jobs` or of a
    selection holding id and `CLAIM_ORDER_COLUMNS`."""
    return [
        columns[key.field].desc() if key.descending else columns[key.field] for key in CLAIM_ORDER
    ]


def claimed() -> dict[str, Any]:
    """The values a claim writes: `Job.claim` as columns."""
    c = jobs.c
    return {
        "status": Status.PULLED.value,
        "worker": bindparam("p_worker", type_=String),
        "last_seen": bindparam("p_now", type_=_TIME),
        "updated_at": bindparam("p_now", type_=_TIME),
        "attempts": c.attempts + 1,
        "version": c.version + 1,
    }


ClaimPass = Callable[[frozenset[str] | None, int], Awaitable[Sequence[Any]]]


async def claim_in_passes(offer: WorkerOffer, limit: int, claim_pass: ClaimPass) -> list[Job]:
    """The worker's groups first, then any job. `claim_pass(groups, wanted)` claims up to
    `wanted` jobs (of `groups`, or of any group with None) and returns their rows; the jobs
    come back in claim order, marked as tried by the worker."""
    claimed: list[Job] = []
    for groups in [frozenset(offer.groups), None] if offer.groups else [None]:
        wanted = limit - len(claimed)
        if wanted <= 0:
            break
        rows = await claim_pass(groups, wanted)
        # RETURNING has no order: put the claimed rows back in claim order.
        ordered = sorted(rows, key=lambda row: order_values(row.__getitem__))
        claimed.extend(job_from_row(row) for row in ordered)
    for job in claimed:
        job.tried_by = job.tried_by | {offer.worker}
    return claimed


def claim_params(
    offer: WorkerOffer, limit: int, now: datetime, groups: frozenset[str] | None
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "p_cpu_cores": offer.cpu_cores,
        "p_memory": offer.memory,
        "p_gpu_mem": offer.gpu_mem,
        "p_gpu_model": offer.gpu_model,
        "p_gpu_archi": offer.gpu_archi,
        "p_environment": offer.environment.value,
        "p_cutoff": offer.any_environment_cutoff(now),
        "p_worker": offer.worker,
        "p_limit": limit,
        "p_now": now,
    }
    if groups is not None:
        params["p_groups"] = sorted(groups)
    return params


def insert_ignore(table: Table) -> Any:
    """SQLite's INSERT that skips rows whose key exists (a worker re-claiming a job it tried).
    PostgreSQL's claim records its attempts in its own statement (`prepared_claims`)."""
    return sqlite.insert(table).on_conflict_do_nothing()
