"""The EventLog and Health ports on SQL."""

from __future__ import annotations

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.codec import event_from_row
from adapters.sql.engine import transaction
from adapters.sql.tables import job_events
from domain.jobs import JobEvent


class SqlEventLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def events(self, job_id: int) -> list[JobEvent]:
        statement = (
            select(job_events).where(job_events.c.job_id == job_id).order_by(job_events.c.id)
        )
        async with transaction(self._engine) as s:
            rows = (await s.execute(statement)).mappings().all()
        return [event_from_row(row) for row in rows]


class SqlHealth:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def ping(self) -> None:
        async with transaction(self._engine) as s:
            await s.execute(select(literal(1)))
