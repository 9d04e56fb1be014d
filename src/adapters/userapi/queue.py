"""QueueClient in-process: the queue's own store, with the submission's run-once key (kept
forever in the `userapi` namespace), so a repeat returns the job made the first time."""

from __future__ import annotations

import dataclasses

from domain.jobs import NewJob
from domain.pipelines.keys import JobKey, KeyScope
from domain.ports import Clock, JobStore
from domain.userjobs.submission import SUBMISSION_NAMESPACE


class InProcessQueueClient:
    def __init__(self, store: JobStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def submit(self, job: NewJob, idempotency_key: str) -> int:
        key = JobKey(SUBMISSION_NAMESPACE, idempotency_key, KeyScope.FOREVER)
        queued, _ = await self._store.add_once(dataclasses.replace(job, key=key), self._clock.now())
        return queued.id
