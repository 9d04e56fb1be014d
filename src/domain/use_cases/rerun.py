"""Re-run: an explicit request puts an ended job back in the queue as a new attempt."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import Forbidden
from domain.jobs import Job
from domain.pipelines.history import Attempt, attempts_of
from domain.ports import Clock, EventLog, JobStore

ADMINS_GROUP = "admins"


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks: a user (its name) or an admin (the user side's API key, the `admins`
    group of a token)."""

    name: str
    admin: bool = False

    def require_owner(self, job: Job) -> None:
        if not self.admin and job.owner != self.name:
            raise Forbidden(f"only the owner of job {job.id} or an admin may re-run it")


class RerunJob:
    def __init__(self, store: JobStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self, job_id: int, requester: Requester) -> Job:
        """IllegalTransition unless it ended; Conflict if another job took its key."""
        job = await self._store.get(job_id)
        requester.require_owner(job)
        event = job.rerun(requester.name, self._clock.now())
        await self._store.rerun(job, event)
        return job


class JobAttempts:
    """The history of a job's attempts: who asked, when, how each ended."""

    def __init__(self, store: JobStore, events: EventLog) -> None:
        self._store = store
        self._events = events

    async def __call__(self, job_id: int, requester: Requester) -> tuple[Job, list[Attempt]]:
        job = await self._store.get(job_id)
        requester.require_owner(job)
        return job, attempts_of(job, await self._events.events(job_id))
