"""The Outbox port on SQL: the status messages `JobStore` wrote with each change, read and
settled by the deliverer in batches (one statement for many messages). Every method is one
transaction; the writes open with `fence` (the scheduler's leader lease) when given."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import bindparam, delete, exists, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.codec import update_from_row
from adapters.sql.engine import Fence, transaction
from adapters.sql.tables import ACTIVE_SQL, jobs, outbox
from domain.transfers import Backlog, Retry, StatusUpdate

_TIME = DateTimeUTC(timezone=True)


class SqlOutbox:
    def __init__(self, engine: AsyncEngine, *, fence: Fence | None = None) -> None:
        self._engine = engine
        self._fence = fence

    async def pending_updates(
        self, now: datetime, jobs: int, exclude: Collection[int] = ()
    ) -> list[StatusUpdate]:
        params = {"now": now, "jobs": jobs, "exclude": list(exclude)}
        async with transaction(self._engine) as s:
            rows = (await s.execute(_PENDING, params)).mappings().all()
        return [update_from_row(row) for row in rows]

    async def settle(self, delivered: Sequence[int], retries: Sequence[Retry]) -> None:
        async with transaction(self._engine, self._fence) as s:
            if delivered:
                await s.execute(_DELIVERED, {"ids": list(delivered)})
            if retries:
                await s.execute(
                    _RETRY,
                    [
                        {"m_id": r.message_id, "m_at": r.at, "m_error": r.error[:1000]}
                        for r in retries
                    ],
                )

    async def drop_updates(self, job_id: int) -> None:
        async with transaction(self._engine, self._fence) as s:
            await s.execute(delete(outbox).where(outbox.c.job_id == job_id))

    async def probe_active(self, now: datetime, changed_before: datetime) -> int:
        async with transaction(self._engine, self._fence) as s:
            result = await s.execute(_PROBE, {"now": now, "before": changed_before})
        return int(result.rowcount or 0)

    async def backlog(self) -> Backlog:
        async with transaction(self._engine) as s:
            row = (await s.execute(select(func.count(), func.min(outbox.c.created_at)))).one()
        return Backlog(int(row[0]), row[1])


def _pending() -> Any:
    """The messages of the first `jobs` jobs (by their oldest message) whose oldest message
    is due, not among `exclude`. Walks the outbox in id order and stops at the `jobs`-th head
    (a message with no earlier one of its job: one probe of `ix_outbox_job_id`), so a read
    costs what it returns, not the size of a backlog."""
    earlier = outbox.alias("earlier")
    is_head = ~exists().where(earlier.c.job_id == outbox.c.job_id, earlier.c.id < outbox.c.id)
    due = (
        select(outbox.c.job_id)
        .where(
            is_head,
            outbox.c.next_attempt_at <= bindparam("now", type_=_TIME),
            outbox.c.job_id.not_in(bindparam("exclude", expanding=True)),
        )
        .order_by(outbox.c.id)
        .limit(bindparam("jobs"))
    )
    return select(outbox).where(outbox.c.job_id.in_(due)).order_by(outbox.c.job_id, outbox.c.id)


def _probe() -> Any:
    now = bindparam("now", type_=_TIME)
    nothing_pending = ~exists().where(outbox.c.job_id == jobs.c.id)
    current = (
        select(
            jobs.c.id,
            jobs.c.user_job_id,
            jobs.c.status,
            jobs.c.runtime_details,
            literal(0),
            now,
            now,
        )
        .where(
            text(ACTIVE_SQL),
            jobs.c.updated_at < bindparam("before", type_=_TIME),
            nothing_pending,
        )
        # PostgreSQL: lock the jobs read, so that a report moving one of them meanwhile
        # comes before (its status is the one read) or after (its message gets a later id).
        .with_for_update(read=True, of=jobs)
    )
    columns = ["job_id", "user_job_id", "status", "runtime_details", "attempts"]
    return insert(outbox).from_select([*columns, "created_at", "next_attempt_at"], current)


_PENDING = _pending()
_PROBE = _probe()
_DELIVERED = delete(outbox).where(outbox.c.id.in_(bindparam("ids", expanding=True)))
_RETRY = (
    update(outbox)
    .where(outbox.c.id == bindparam("m_id"))
    .values(
        attempts=outbox.c.attempts + 1,
        next_attempt_at=bindparam("m_at", type_=_TIME),
        last_error=bindparam("m_error"),
    )
)
