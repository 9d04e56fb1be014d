"""The UserJobStore port on SQL, in the queue's database (the embedded default): a user's
job and its queued job are written, and canceled, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.codec import event_row, new_job_row
from adapters.sql.engine import guarded_transaction
from adapters.sql.store import get_statement, job_with_tried
from adapters.sql.tables import job_events, jobs, outbox
from adapters.sql.user_codec import (
    outbox_row,
    progress_row,
    submission_from_row,
    user_job_from_row,
    user_job_row,
)
from adapters.sql.user_tables import user_jobs, user_outbox
from domain.errors import ConcurrentUpdate, JobNotFound, Unavailable
from domain.jobs import NewJob
from domain.userjobs.model import JobNameTaken, JobQuery, UserJob, UserJobNotFound
from domain.userjobs.notices import NoNotifications, Notice, Notifications
from domain.userjobs.ports import Advanced, Step
from domain.userjobs.submission import Submission

_ATTEMPTS = 5
# The columns a status step changes (`progress_row`).
_PROGRESS = ("status", "date_started", "date_finished", "runtime_details")
# One status step on one row, if the row is still what the step was computed from.
_STEP = (
    update(user_jobs)
    .where(
        user_jobs.c.id == bindparam("s_id"),
        user_jobs.c.status == bindparam("s_was_status"),
        user_jobs.c.runtime_details.is_not_distinct_from(
            bindparam("s_was_details", type_=user_jobs.c.runtime_details.type)
        ),
    )
    .values({name: bindparam(f"s_{name}") for name in _PROGRESS})
)


def _step_params(before: UserJob, after: UserJob) -> dict[str, Any]:
    return {
        "s_id": before.id,
        "s_was_status": before.status.value,
        "s_was_details": before.runtime_details,
        **{f"s_{name}": value for name, value in progress_row(after).items()},
    }


DELETED = "deleted by the user"


async def ping(engine: AsyncEngine) -> None:
    """Raise Unavailable unless the database answers."""
    try:
        async with engine.connect() as c:
            await c.execute(select(literal(1)))
    except (OperationalError, InterfaceError, OSError, TimeoutError) as exc:
        raise Unavailable(f"database unavailable: {type(exc).__name__}") from exc


class SqlUserJobStore:
    """`remote_scope` (the split topology): the queue is a remote worker API; a submission
    goes into the user outbox with the user's job, keyed by the scope and the job's id."""

    def __init__(
        self,
        engine: AsyncEngine,
        notifications: Notifications | None = None,
        *,
        remote_scope: str | None = None,
    ) -> None:
        self._engine = engine
        self._dialect: str = engine.dialect.name
        self._notifications = notifications or NoNotifications()
        self._remote_scope = remote_scope

    def _tx(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return guarded_transaction(self._engine)

    async def submit(
        self, draft: UserJob, idempotency_key: str | None, queue_job: Callable[[int], NewJob]
    ) -> tuple[UserJob, bool]:
        if idempotency_key is not None:
            existing = await self._by_key(draft.username, idempotency_key)
            if existing is not None:
                return existing, False
        try:
            async with self._tx() as c:
                row = user_job_row(draft, idempotency_key)
                user_job_id = await c.scalar(
                    insert(user_jobs).values(row).returning(user_jobs.c.id)
                )
                assert user_job_id is not None
                new = queue_job(user_job_id)
                if self._remote_scope is not None:
                    await c.execute(
                        insert(user_outbox).values(
                            outbox_row(user_job_id, new, self._remote_scope, draft.date_created)
                        )
                    )
                else:
                    queue_row = new_job_row(new, draft.date_created)
                    queue_id = await c.scalar(insert(jobs).values(queue_row).returning(jobs.c.id))
                    await c.execute(
                        update(user_jobs)
                        .where(user_jobs.c.id == user_job_id)
                        .values(queue_job_id=queue_id)
                    )
                stored = await self._row(c, user_job_id)
        except IntegrityError:
            if idempotency_key is not None:
                existing = await self._by_key(draft.username, idempotency_key)
                if existing is not None:
                    return existing, False  # a concurrent retry won the race
            raise JobNameTaken(draft.job_name) from None
        return stored, True

    async def _by_key(self, username: str, key: str) -> UserJob | None:
        async with self._tx() as c:
            row = (
                (
                    await c.execute(
                        select(user_jobs).where(
                            user_jobs.c.username == username, user_jobs.c.idempotency_key == key
                        )
                    )
                )
                .mappings()
                .one_or_none()
            )
        return user_job_from_row(row) if row else None

    async def _row(self, c: AsyncConnection, user_job_id: int) -> UserJob:
        row = (
            (await c.execute(select(user_jobs).where(user_jobs.c.id == user_job_id)))
            .mappings()
            .one()
        )
        return user_job_from_row(row)

    async def get(self, username: str, job_id: int) -> UserJob:
        async with self._tx() as c:
            return await self._owned(c, username, job_id)

    async def _owned(self, c: AsyncConnection, username: str, job_id: int) -> UserJob:
        statement = select(user_jobs).where(
            user_jobs.c.id == job_id, user_jobs.c.username == username
        )
        row = (await c.execute(statement)).mappings().one_or_none()
        if row is None:
            raise UserJobNotFound(job_id)
        return user_job_from_row(row)

    async def page(self, query: JobQuery) -> list[UserJob]:
        statement = select(user_jobs).where(user_jobs.c.username == query.username)
        if query.status is not None:
            statement = statement.where(user_jobs.c.status == query.status.value)
        statement = (
            statement.order_by(user_jobs.c.id.desc()).offset(query.offset).limit(query.limit)
        )
        async with self._tx() as c:
            rows = (await c.execute(statement)).mappings().all()
        return [user_job_from_row(row) for row in rows]

    async def delete(self, username: str, job_id: int, at: datetime) -> UserJob:
        for attempt in range(_ATTEMPTS):
            try:
                async with self._tx() as c:
                    job = await self._owned(c, username, job_id)
                    await c.execute(delete(user_jobs).where(user_jobs.c.id == job_id))
                    await c.execute(delete(user_outbox).where(user_outbox.c.user_job_id == job_id))
                    await self._notifications.forget(c, job_id)
                    if job.queue_job_id is not None and self._remote_scope is None:
                        await self._cancel_queued(c, job.queue_job_id, at)
                return job
            except ConcurrentUpdate:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _cancel_queued(self, c: AsyncConnection, queue_job_id: int, at: datetime) -> None:
        """Job.cancel on the queue's job, in this transaction; its pending updates go too."""
        row = await c.execute(get_statement(self._dialect), {"p_id": queue_job_id})
        try:
            job = job_with_tried(queue_job_id, row.mappings().one_or_none())
        except JobNotFound:
            return
        await c.execute(delete(outbox).where(outbox.c.job_id == queue_job_id))
        event = job.cancel(at, DELETED)
        if event is None:
            return
        result = await c.execute(
            update(jobs)
            .where(jobs.c.id == job.id, jobs.c.version == job.version)
            .values(status=job.status.value, updated_at=at, version=jobs.c.version + 1)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"job {job.id} changed meanwhile")
        await c.execute(insert(job_events).values(event_row(event)))

    async def advance(
        self, step: Step, *, user_job_id: int | None = None, queue_job_id: int | None = None
    ) -> UserJob | None:
        where: Any = (
            user_jobs.c.id == user_job_id
            if user_job_id is not None
            else user_jobs.c.queue_job_id == queue_job_id
        )
        for _ in range(_ATTEMPTS):
            async with self._tx() as c:
                row = (await c.execute(select(user_jobs).where(where))).mappings().one_or_none()
                if row is None:
                    raise UserJobNotFound(user_job_id or queue_job_id or 0)
                before = user_job_from_row(row)
                outcome = step(before)
                if outcome is None:
                    return None
                after, notice = outcome
                changed = await c.execute(
                    update(user_jobs)
                    .where(
                        user_jobs.c.id == before.id,
                        user_jobs.c.status == before.status.value,
                        user_jobs.c.runtime_details.is_not_distinct_from(before.runtime_details),
                    )
                    .values(progress_row(after))
                )
                if changed.rowcount != 1:
                    continue  # changed since the read: read again
                if notice is not None:
                    await self._notifications.enqueue(c, [notice])
                return after
        raise ConcurrentUpdate(f"user job {user_job_id or queue_job_id} keeps changing")

    async def advance_many(self, steps: Sequence[tuple[int, Step]]) -> list[Advanced]:
        """`advance` for the user jobs of several queue jobs (each at most once), in one
        transaction of a few statements whatever their number: one read, one conditional
        write of every change, one read-back of what was written, the notices."""
        wanted = [queue_job_id for queue_job_id, _ in steps]
        async with self._tx() as c:
            found = await c.execute(select(user_jobs).where(user_jobs.c.queue_job_id.in_(wanted)))
            by_queue = {row["queue_job_id"]: user_job_from_row(row) for row in found.mappings()}
            outcomes: list[Advanced] = []
            changes: list[tuple[UserJob, UserJob, Notice | None]] = []
            for queue_job_id, step in steps:
                before = by_queue.get(queue_job_id)
                if before is None:
                    outcomes.append(UserJobNotFound(queue_job_id))
                    continue
                stepped = step(before)
                outcomes.append(stepped[0] if stepped else None)
                if stepped:
                    changes.append((before, *stepped))
            written = await self._write_steps(c, [(before, after) for before, after, _ in changes])
            notices = [n for before, _, n in changes if before.id in written and n is not None]
            await self._notifications.enqueue(c, notices)
        lost = {before.id for before, _, _ in changes} - written
        return [
            ConcurrentUpdate(f"user job {outcome.id} changed meanwhile")
            if isinstance(outcome, UserJob) and outcome.id in lost
            else outcome
            for outcome in outcomes
        ]

    async def _write_steps(
        self, c: AsyncConnection, changes: Sequence[tuple[UserJob, UserJob]]
    ) -> set[int]:
        """Every (before, after), each row only if it is still `before`, in one statement of
        one shape whatever their number (executemany); the ids of the rows that now hold
        what was written (read back: a driver's count of many rows says not which)."""
        if not changes:
            return set()
        await c.execute(_STEP, [_step_params(before, after) for before, after in changes])
        now = select(user_jobs.c.id, user_jobs.c.status, user_jobs.c.runtime_details).where(
            user_jobs.c.id.in_([before.id for before, _ in changes])
        )
        held = {row.id: (row.status, row.runtime_details) for row in await c.execute(now)}
        return {
            after.id
            for _, after in changes
            if held.get(after.id) == (after.status.value, after.runtime_details)
        }

    async def pending_submissions(self, now: datetime, limit: int) -> list[Submission]:
        statement = (
            select(user_outbox)
            .where(user_outbox.c.next_attempt_at <= now)
            .order_by(user_outbox.c.id)
            .limit(limit)
        )
        async with self._tx() as c:
            rows = (await c.execute(statement)).mappings().all()
        return [submission_from_row(row) for row in rows]

    async def submitted(self, submission: Submission, queue_job_id: int) -> None:
        async with self._tx() as c:
            await c.execute(
                update(user_jobs)
                .where(user_jobs.c.id == submission.user_job_id)
                .values(queue_job_id=queue_job_id)
            )
            await c.execute(delete(user_outbox).where(user_outbox.c.id == submission.message_id))

    async def retry_submission(self, message_id: int, at: datetime, error: str) -> None:
        async with self._tx() as c:
            await c.execute(
                update(user_outbox)
                .where(user_outbox.c.id == message_id)
                .values(
                    attempts=user_outbox.c.attempts + 1, next_attempt_at=at, last_error=error[:1000]
                )
            )
