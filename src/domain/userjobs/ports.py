"""What the user side needs to keep its jobs, and to hand them to the queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from domain.jobs import NewJob
from domain.userjobs.model import JobQuery, UserJob
from domain.userjobs.notices import Notice

# A status step: from the stored job, the job to store and what to notify (None: no change).
Step = Callable[[UserJob], tuple[UserJob, Notice | None] | None]


class UserJobStore(Protocol):
    async def submit(
        self,
        draft: UserJob,
        idempotency_key: str | None,
        queue_job: Callable[[int], NewJob],
    ) -> tuple[UserJob, bool]:
        """Store `draft` (its id is ignored) and hand `queue_job(<new id>)` to the queue,
        atomically: both or nothing. With an idempotency key already used by this user,
        nothing is written and the existing job comes back. Says whether it was created.
        JobNameTaken when the user already has a job of that name."""
        ...

    async def get(self, username: str, job_id: int) -> UserJob:
        """The user's job; UserJobNotFound for a missing job or another user's."""
        ...

    async def page(self, query: JobQuery) -> list[UserJob]:
        """The user's jobs, newest first."""
        ...

    async def delete(self, username: str, job_id: int, at: datetime) -> UserJob:
        """Forget the user's job and cancel its queued job (a worker's next report: 404),
        atomically. UserJobNotFound as `get`."""
        ...

    async def advance(
        self, step: Step, *, user_job_id: int | None = None, queue_job_id: int | None = None
    ) -> UserJob | None:
        """Apply `step` to the job (by either id) in one transaction, recording its notice;
        the stored job, or None when the step changed nothing. UserJobNotFound."""
        ...
