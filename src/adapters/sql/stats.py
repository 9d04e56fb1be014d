"""The QueueStats port on SQL: a few aggregate reads, for /metrics (never on the hot path)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.errors import latch_of, outage_cause
from adapters.sql.tables import jobs, outbox
from domain.jobs import Status
from domain.stats import QueueSnapshot

_BY_STATUS = select(jobs.c.status, func.count()).group_by(jobs.c.status)
# The claim-order index (status = 'queued', ...) serves this one.
_OLDEST_QUEUED = select(func.min(jobs.c.created_at)).where(jobs.c.status == Status.QUEUED.value)
_OUTBOX = select(func.count(), func.min(outbox.c.created_at))


class SqlQueueStats:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._outage = latch_of(engine)

    async def snapshot(self) -> QueueSnapshot:
        try:
            async with self._engine.connect() as connection:
                by_status = (await connection.execute(_BY_STATUS)).all()
                oldest_queued = await connection.scalar(_OLDEST_QUEUED)
                backlog, oldest_message = (await connection.execute(_OUTBOX)).one()
        except Exception as exc:
            cause = outage_cause(exc)
            if cause is None:
                raise
            raise self._outage.refused(cause) from exc
        return QueueSnapshot(
            jobs={Status(status): int(n) for status, n in by_status},
            oldest_queued_at=oldest_queued,
            outbox_backlog=int(backlog),
            oldest_undelivered_at=oldest_message,
        )
