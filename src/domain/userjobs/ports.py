"""What the user side needs to keep its jobs, and to hand them to the queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from domain.errors import DomainError
from domain.jobs import NewJob
from domain.userjobs.model import JobQuery, UserJob
from domain.userjobs.notices import Notice

# A status step: from the stored job, the job to store and what to notify (None: no change).
Step = Callable[[UserJob], tuple[UserJob, Notice | None] | None]
# What a step came to for one job of several: the stored job, None (no change), or the error
# that job alone met (UserJobNotFound; ConcurrentUpdate when it changed meanwhile).
Advanced = UserJob | None | DomainError


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

    async def advance_many(self, steps: Sequence[tuple[int, Step]]) -> list[Advanced]:
        """`advance` for the user jobs of several queue jobs (by queue job id, each at most
        once), in one transaction: one outcome per step, in order."""
        ...
