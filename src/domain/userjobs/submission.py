"""The split topology: the user API in front of a remote worker API. A user's job and its
submission are written together; the user side's scheduler delivers the submission with an
idempotency key, so a retry never enqueues twice and no status can arrive before the job."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.errors import Rejected, Unavailable
from domain.jobs import NewJob
from domain.ports import Clock
from domain.use_cases.forwarding import backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Submission:
    message_id: int
    user_job_id: int
    idempotency_key: str
    job: NewJob
    attempts: int = 0


class QueueClient(Protocol):
    """The queue, in this process's database or behind a worker API over HTTP."""

    async def submit(self, job: NewJob, idempotency_key: str) -> int:
        """Enqueue once per key; the queue's job id (the same on a repeat). Unavailable:
        try again later; Rejected: never."""
        ...


class SubmissionOutbox(Protocol):
    async def pending_submissions(self, now: datetime, limit: int) -> list[Submission]: ...

    async def submitted(self, submission: Submission, queue_job_id: int) -> None:
        """The queue took it: remember its id on the user's job, forget the message."""
        ...

    async def retry_submission(self, message_id: int, at: datetime, error: str) -> None: ...


SUBMISSION_NAMESPACE = "userapi"  # run-once keys of user job submissions, kept forever


def submission_key(user_job_id: int, scope: str) -> str:
    """One key per user job of one user API (`scope` tells user APIs apart)."""
    return f"{scope}:user-job:{user_job_id}"


class DeliverSubmissions:
    def __init__(self, outbox: SubmissionOutbox, queue: QueueClient, clock: Clock) -> None:
        self._outbox = outbox
        self._queue = queue
        self._clock = clock

    async def __call__(self, batch: int = 50) -> int:
        delivered = 0
        for submission in await self._outbox.pending_submissions(self._clock.now(), batch):
            try:
                queue_job_id = await self._queue.submit(submission.job, submission.idempotency_key)
            except Unavailable as exc:
                at = self._clock.now() + backoff(submission.attempts)
                await self._outbox.retry_submission(submission.message_id, at, str(exc))
                continue
            except Rejected as exc:
                log.error(
                    "worker API rejected user job %s for good: %s", submission.user_job_id, exc
                )
                at = self._clock.now() + backoff(20)
                await self._outbox.retry_submission(submission.message_id, at, str(exc))
                continue
            await self._outbox.submitted(submission, queue_job_id)
            delivered += 1
        return delivered
