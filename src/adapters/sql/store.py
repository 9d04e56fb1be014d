"""The JobStore port on SQL: SQLite, and PostgreSQL off its hot path (`adapters.sql.postgres`
subclasses it). Every method is one transaction."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, bindparam, func, insert, literal, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.claim import claim_in_passes, claim_params, claim_statement, insert_ignore
from adapters.sql.codec import (
    event_row,
    job_from_row,
    new_job_row,
    outbox_row,
)
from adapters.sql.engine import Fence, transaction
from adapters.sql.once import ADD_ATTEMPTS, add_or_find, forget_tries, key_conflict
from adapters.sql.tables import ACTIVE_SQL, job_attempts, job_events, jobs, outbox
from domain.errors import ConcurrentUpdate, JobNotFound, Unavailable
from domain.jobs import Job, JobEvent, NewJob, Report, Status
from domain.limits import ID_MAX, NAME_MAX, check_new_job, check_offer, check_report, check_text
from domain.matching import WorkerOffer

T = TypeVar("T")
_CLAIM_ATTEMPTS = 5


class SqlJobStore:
    def __init__(self, engine: AsyncEngine, *, outbox: bool, fence: Fence | None = None) -> None:
        # Core connections, not ORM sessions: rows are mapped explicitly anyway, and the
        # session machinery cost ~40% of a claim's time.
        self._engine = engine
        self._with_outbox = outbox
        self._fence = fence  # opens every `save` (the scheduler's: `adapters.sql.leader`)
        self._dialect: str = self._engine.dialect.name

    def _tx(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return transaction(self._engine)

    async def add(self, new: NewJob, now: datetime) -> Job:
        check_new_job(new)
        if new.key is not None:
            return (await self.add_once(new, now))[0]
        async with self._tx() as s:
            row = (
                (await s.execute(insert(jobs).values(new_job_row(new, now)).returning(jobs)))
                .mappings()
                .one()
            )
        return job_from_row(row)

    async def add_once(self, new: NewJob, now: datetime) -> tuple[Job, bool]:
        if new.key is None:
            return await self.add(new, now), True
        check_new_job(new)
        row = new_job_row(new, now)
        for _ in range(ADD_ATTEMPTS):
            async with self._tx() as s:
                found = await add_or_find(s, self._dialect, row)
            if found is not None:
                return job_from_row(found[0]), found[1]
        raise Unavailable(f"key {new.key.key!r}: its holder keeps changing; try again")

    async def rerun(self, job: Job, event: JobEvent) -> None:
        try:
            async with self._tx() as s:
                await self._save(s, job)
                await forget_tries(s, job)
                await self._record(s, event, job.spec.meta.job_id)
        except IntegrityError:
            raise key_conflict(job.key, job.id) from None

    async def get(self, job_id: int) -> Job:
        if not 0 <= job_id <= ID_MAX:
            raise JobNotFound(job_id)
        async with self._tx() as s:
            result = await s.execute(get_statement(self._dialect), {"p_id": job_id})
            row = result.mappings().one_or_none()
        return job_with_tried(job_id, row)

    async def claim(
        self, offer: WorkerOffer, limit: int, now: datetime, *, retry_different: bool
    ) -> list[Job]:
        # SQLite serialises writers: one UPDATE ... RETURNING is atomic, no lock waits to
        # retry. (PostgreSQL's claim is `PostgresJobStore.claim`.)
        check_offer(offer, limit)
        async with self._tx() as s:

            async def claim_pass(groups: frozenset[str] | None, wanted: int) -> Sequence[Any]:
                statement = claim_statement(
                    retry_different=retry_different, by_group=groups is not None
                )
                params = claim_params(offer, wanted, now, groups)
                return (await s.execute(statement, params)).mappings().all()

            claimed = await claim_in_passes(offer, limit, claim_pass)
            if claimed:
                await self._record_claims(s, claimed, offer.worker, now)
        return claimed

    async def _record_claims(
        self, s: AsyncConnection, claimed: Sequence[Job], worker: str, now: datetime
    ) -> None:
        await s.execute(
            insert_ignore(job_attempts),
            [{"job_id": job.id, "worker": worker} for job in claimed],
        )
        events = [JobEvent(job.id, now, Status.QUEUED, Status.PULLED, worker) for job in claimed]
        await s.execute(_INSERT_EVENT, [event_row(e) for e in events])
        if self._with_outbox:
            await s.execute(
                _INSERT_OUTBOX,
                [
                    outbox_row(e, job.spec.meta.job_id)
                    for e, job in zip(events, claimed, strict=True)
                ],
            )

    async def save(self, job: Job, event: JobEvent | None) -> None:
        async with transaction(self._engine, self._fence) as s:
            await self._save(s, job)
            await self._record(s, event, job.spec.meta.job_id)

    async def _save(self, s: AsyncConnection, job: Job) -> None:
        values = {
            "p_id": job.id,
            "p_version": job.version,
            "p_status": job.status.value,
            "p_worker": job.worker,
            "p_last_seen": job.last_seen,
            "p_attempts": job.attempts,
            "p_runtime_details": job.runtime_details,
            "p_updated_at": job.updated_at,
        }
        result = await s.execute(_SAVE, values)
        if result.rowcount != 1:
            exists = await s.scalar(select(literal(1)).where(jobs.c.id == job.id))
            if exists:
                raise ConcurrentUpdate(f"job {job.id} changed meanwhile")
            raise JobNotFound(job.id)

    async def apply_report(self, report: Report) -> bool:
        check_report(report)
        async with self._tx() as s:
            current = (
                await s.execute(_HELD, {"p_id": report.job_id, "p_worker": report.worker})
            ).one_or_none()
            if current is None or Status(current.status) not in report.accepted_from:
                return False
            event = report.event(Status(current.status))
            values = {
                "p_id": report.job_id,
                "p_version": current.version,
                "p_status": report.status.value,
                "p_worker": report.worker,
                "p_last_seen": report.at,
                "p_attempts": current.attempts,
                "p_runtime_details": (
                    current.runtime_details if report.details is None else report.details
                ),
                "p_updated_at": report.at if event else current.updated_at,
            }
            if (await s.execute(_SAVE, values)).rowcount != 1:
                return False  # changed since the read: the caller takes the slow path
            await self._record(s, event, current.user_job_id)
            news = report.news(Status(current.status), current.runtime_details)
            if news is not None and self._with_outbox:
                await s.execute(_INSERT_OUTBOX, [outbox_row(news, current.user_job_id)])
        return True

    async def _record(self, s: AsyncConnection, event: JobEvent | None, user_job_id: int) -> None:
        if event is None:
            return
        await s.execute(_INSERT_EVENT, [event_row(event)])
        if self._with_outbox and event.notify:
            await s.execute(_INSERT_OUTBOX, [outbox_row(event, user_job_id)])

    async def held_by(self, worker: str) -> list[Job]:
        check_text("worker", worker, NAME_MAX)
        return await self._jobs(
            select(jobs).where(jobs.c.worker == worker, text(ACTIVE_SQL)).order_by(jobs.c.id)
        )

    async def canceled_under(self, worker: str, limit: int) -> list[Job]:
        return await self._jobs(
            select(jobs)
            .where(jobs.c.worker == worker, jobs.c.status == Status.CANCELED.value)
            .order_by(jobs.c.updated_at.desc(), jobs.c.id.desc())
            .limit(limit)
        )

    async def expired(self, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        return await self._jobs(
            select(jobs)
            .where(text(ACTIVE_SQL), jobs.c.last_seen < now - lease)
            # `Job.lease_expired`: tracker tasks follow their pipeline's lease
            .where(or_(jobs.c.environment.is_(None), jobs.c.environment != "pipeline"))
            .order_by(jobs.c.id)
            .limit(limit)
        )

    async def _jobs(self, statement: Any) -> list[Job]:
        async with self._tx() as s:
            rows = (await s.execute(statement)).mappings().all()
        return [job_from_row(row) for row in rows]


# Statements of the hot path, built once: SQLAlchemy neither rebuilds nor re-keys them.
_INSERT_EVENT = insert(job_events)
_INSERT_OUTBOX = insert(outbox)
_HELD = select(
    jobs.c.status,
    jobs.c.version,
    jobs.c.attempts,
    jobs.c.runtime_details,
    jobs.c.updated_at,
    jobs.c.user_job_id,
).where(jobs.c.id == bindparam("p_id"), jobs.c.worker == bindparam("p_worker"))
_SAVE = (
    update(jobs)
    .where(jobs.c.id == bindparam("p_id"), jobs.c.version == bindparam("p_version"))
    .values(
        status=bindparam("p_status"),
        worker=bindparam("p_worker"),
        last_seen=bindparam("p_last_seen", type_=DateTimeUTC(timezone=True)),
        attempts=bindparam("p_attempts"),
        runtime_details=bindparam("p_runtime_details"),
        updated_at=bindparam("p_updated_at", type_=DateTimeUTC(timezone=True)),
        version=jobs.c.version + 1,
    )
)


@functools.cache
def get_statement(dialect: str) -> Any:
    """The job and, in the same query, who tried it (a JSON array)."""
    tried = (
        select(_json_agg(dialect, job_attempts.c.worker))
        .where(job_attempts.c.job_id == jobs.c.id)
        .scalar_subquery()
    )
    return select(jobs, tried.label("tried_by")).where(
        jobs.c.id == bindparam("p_id", type_=BigInteger)
    )


def _json_agg(dialect: str, column: Any) -> Any:
    return func.json_agg(column) if dialect == "postgresql" else func.json_group_array(column)


def job_with_tried(job_id: int, row: Any) -> Job:
    """The job of a `get_statement` row; JobNotFound for no row."""
    if row is None:
        raise JobNotFound(job_id)
    return job_from_row(row, _tried(row["tried_by"]))


def _tried(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    workers = json.loads(value) if isinstance(value, str) else value
    return frozenset(w for w in workers if w is not None)


__all__ = ["ACTIVE_SQL", "SqlJobStore"]
