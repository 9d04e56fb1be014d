from __future__ import annotations

from domain.jobs import Job, NewJob
from domain.ports import Clock, JobStore


class SubmitJob:
    """Enqueue a job (internal API). With a key: the job already holding it, if any."""

    def __init__(self, store: JobStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self, new: NewJob) -> tuple[Job, bool]:
        """(the job, whether it was created now)."""
        return await self._store.add_once(new, self._clock.now())
