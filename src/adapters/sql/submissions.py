"""Keyed submissions on the queue's database: the job and its key in one transaction (the
worker API's POST /_jobs with an Idempotency-Key, and the in-process QueueClient)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.codec import new_job_row
from adapters.sql.tables import jobs
from adapters.sql.user_tables import submission_keys
from domain.jobs import NewJob


class SqlKeyedSubmissions:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def submit_once(self, job: NewJob, key: str, now: datetime) -> tuple[int, bool]:
        existing = await self._known(key)
        if existing is not None:
            return existing, False
        try:
            async with self._engine.begin() as c:
                job_id = await c.scalar(
                    insert(jobs).values(new_job_row(job, now)).returning(jobs.c.id)
                )
                await c.execute(insert(submission_keys).values(idempotency_key=key, job_id=job_id))
        except IntegrityError:
            raced = await self._known(key)
            if raced is None:
                raise
            return raced, False
        assert job_id is not None
        return int(job_id), True

    async def _known(self, key: str) -> int | None:
        async with self._engine.connect() as c:
            value = await c.scalar(
                select(submission_keys.c.job_id).where(submission_keys.c.idempotency_key == key)
            )
        return int(value) if value is not None else None


class InProcessQueueClient:
    """The QueueClient on the queue's own database."""

    def __init__(self, submissions: SqlKeyedSubmissions) -> None:
        self._submissions = submissions

    async def submit(self, job: NewJob, idempotency_key: str) -> int:
        job_id, _ = await self._submissions.submit_once(job, idempotency_key, datetime.now(UTC))
        return job_id
