"""The tracker's claim on PostgreSQL's hot path: ONE prepared statement on the asyncpg pool
of `PostgresJobStore` claims (`FOR UPDATE SKIP LOCKED`) and records the events in a
data-modifying CTE: one round trip and one commit per claim."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, bindparam, insert, literal, null, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.codec import job_from_row
from adapters.sql.pg_statements import EVENT_COLUMNS, Prepared
from adapters.sql.porch_tasks import SqlTaskStore, claim_statement
from adapters.sql.postgres import PostgresJobStore
from adapters.sql.tables import job_events
from domain.jobs import Job, Status


def _claim_with_events(lease: bool) -> Prepared:
    claimed = claim_statement(lease).cte("claimed")
    queued, pulled = literal(Status.QUEUED.value), literal(Status.PULLED.value)
    events = (
        insert(job_events)
        .from_select(
            EVENT_COLUMNS,
            select(
                claimed.c.id,
                claimed.c.updated_at,
                queued,
                pulled,
                bindparam("p_by", type_=String),
                null(),
                literal(0),  # nothing to forward: no DECODE user side for tasks
            ),
        )
        .cte("events")
    )
    return Prepared.of(select(claimed).add_cte(events))


_CLAIMS = {lease: _claim_with_events(lease) for lease in (True, False)}


class PostgresTaskStore(SqlTaskStore):
    def __init__(self, engine: AsyncEngine, jobs: PostgresJobStore) -> None:
        super().__init__(engine)
        self._hot = jobs

    async def claim_tasks(
        self, namespace: str, limit: int, by: str, now: datetime, *, lease: bool
    ) -> list[Job]:
        statement = _CLAIMS[lease]
        params = {"p_namespace": namespace, "p_limit": limit, "p_by": by, "p_now": now}
        async with self._hot.connection() as connection:
            rows = await connection.fetch(statement.sql, *statement.args(params))
        return sorted((job_from_row(row) for row in rows), key=lambda j: (j.created_at, j.id))
