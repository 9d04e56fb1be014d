"""The Outbox port on SQL: the status messages `JobStore` wrote with each change, read and
settled by the deliverer. Every method is one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.codec import update_from_row
from adapters.sql.engine import transaction
from adapters.sql.tables import outbox
from domain.transfers import StatusUpdate


class SqlOutbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def pending_updates(self, now: datetime, limit: int) -> list[StatusUpdate]:
        oldest = select(func.min(outbox.c.id)).group_by(outbox.c.job_id)
        statement = (
            select(outbox)
            .where(outbox.c.id.in_(oldest), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with transaction(self._engine) as s:
            rows = (await s.execute(statement)).mappings().all()
        return [update_from_row(row) for row in rows]

    async def delivered(self, message_id: int) -> None:
        async with transaction(self._engine) as s:
            await s.execute(delete(outbox).where(outbox.c.id == message_id))

    async def retry_later(self, message_id: int, at: datetime, error: str) -> None:
        async with transaction(self._engine) as s:
            await s.execute(
                update(outbox)
                .where(outbox.c.id == message_id)
                .values(attempts=outbox.c.attempts + 1, next_attempt_at=at, last_error=error[:1000])
            )

    async def drop_updates(self, job_id: int) -> None:
        async with transaction(self._engine) as s:
            await s.execute(delete(outbox).where(outbox.c.job_id == job_id))
