"""The TaskStore port on SQL: the tracker's reads of its jobs, and its claim.

The claim is ONE statement: UPDATE ... WHERE id IN (SELECT ... ORDER BY created_at, id LIMIT n
FOR UPDATE SKIP LOCKED) RETURNING ... on PostgreSQL (claimers skip each other's rows instead
of queueing on them), the same without row locks on SQLite (it serialises writers); the
events go in the same transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, null, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.codec import event_row, job_from_row
from adapters.sql.engine import transaction
from adapters.sql.tables import ACTIVE_SQL, QUEUED_SQL, job_events, jobs
from domain.jobs import Job, JobEvent, Status
from domain.pipelines.porch import NAMESPACE_PREFIX
from domain.pipelines.ports import StatusCount

_c = jobs.c
_IN_PORCH = _c.namespace.like(NAMESPACE_PREFIX + "%")


def claim_statement(lease: bool) -> Any:
    """UPDATE ... RETURNING the claimed rows (in no particular order); the claimer (`p_by`)
    goes in the events only."""
    picked = (
        select(_c.id)
        .where(text(QUEUED_SQL), _c.namespace == bindparam("p_namespace"))
        .order_by(_c.created_at, _c.id)
        .limit(bindparam("p_limit"))
        .with_for_update(skip_locked=True)
    )
    now = bindparam("p_now", type_=_c.updated_at.type)
    return (
        update(jobs)
        .where(_c.id.in_(picked.scalar_subquery()))
        .values(
            status=Status.PULLED.value,
            worker=null(),  # no worker holds a task: none can report on it
            last_seen=now if lease else null(),
            updated_at=now,
            attempts=_c.attempts + 1,
            version=_c.version + 1,
        )
        .returning(jobs)
    )


_CLAIM = {lease: claim_statement(lease) for lease in (True, False)}


class SqlTaskStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _jobs(self, statement: Any) -> list[Job]:
        async with transaction(self._engine) as s:
            rows = (await s.execute(statement)).mappings().all()
        return [job_from_row(row) for row in rows]

    async def task(self, namespace: str, key: str) -> Job | None:
        found = await self._jobs(
            select(jobs).where(_c.namespace == namespace, _c.job_key == key).limit(1)
        )
        return found[0] if found else None

    async def tasks(
        self,
        namespace: str | None,
        statuses: Collection[Status] | None,
        limit: int,
        offset: int,
    ) -> list[Job]:
        statement = select(jobs).where(
            _IN_PORCH if namespace is None else _c.namespace == namespace
        )
        if statuses is not None:
            statement = statement.where(_c.status.in_([s.value for s in statuses]))
        return await self._jobs(statement.order_by(_c.id).limit(limit).offset(offset))

    async def claim_tasks(
        self, namespace: str, limit: int, by: str, now: datetime, *, lease: bool
    ) -> list[Job]:
        params = {"p_namespace": namespace, "p_limit": limit, "p_by": by, "p_now": now}
        async with transaction(self._engine) as s:
            rows = (await s.execute(_CLAIM[lease], params)).mappings().all()
            claimed = sorted(
                (job_from_row(row) for row in rows), key=lambda j: (j.created_at, j.id)
            )
            if claimed:
                events = [
                    JobEvent(j.id, now, Status.QUEUED, Status.PULLED, by, notify=False)
                    for j in claimed
                ]
                await s.execute(insert(job_events), [event_row(e) for e in events])
        return claimed

    async def counts(self) -> list[StatusCount]:
        statement = (
            select(_c.namespace, _c.status, func.count())
            .where(_IN_PORCH)
            .group_by(_c.namespace, _c.status)
        )
        async with transaction(self._engine) as s:
            rows = (await s.execute(statement)).all()
        return [StatusCount(row[0], Status(row[1]), int(row[2])) for row in rows]

    async def active_since(self, before: datetime, limit: int) -> list[Job]:
        return await self._jobs(
            select(jobs)
            .where(_IN_PORCH, text(ACTIVE_SQL), _c.updated_at < before)
            .order_by(_c.updated_at, _c.id)
            .limit(limit)
        )

    async def ended_since(self, status: Status, after: datetime, limit: int) -> list[Job]:
        return await self._jobs(
            select(jobs)
            .where(_IN_PORCH, _c.status == status.value, _c.updated_at > after)
            .order_by(_c.updated_at.desc(), _c.id.desc())
            .limit(limit)
        )

    async def silent(self, namespace: str, before: datetime, limit: int) -> list[Job]:
        return await self._jobs(
            select(jobs)
            .where(_c.namespace == namespace, text(ACTIVE_SQL), _c.last_seen < before)
            .order_by(_c.id)
            .limit(limit)
        )
