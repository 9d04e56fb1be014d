from __future__ import annotations

from domain.jobs import Job, NewJob
from domain.ports import Clock, JobStore


class SubmitJob:
    """Enqueue a job (internal API)."""

    def __init__(self, store: JobStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self, new: NewJob) -> Job:
        return await self._store.add(new, self._clock.now())
