from __future__ import annotations

from dataclasses import dataclass

from domain.errors import ConcurrentUpdate
from domain.jobs import Status
from domain.policy import QueuePolicy
from domain.ports import Clock, JobStore


@dataclass(frozen=True, slots=True)
class SweepResult:
    requeued: int = 0
    failed: int = 0


class SweepLeases:
    """Requeue jobs whose worker went silent, or fail them after MAX_RETRIES."""

    def __init__(self, store: JobStore, clock: Clock, policy: QueuePolicy) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy

    async def __call__(self, batch: int = 500) -> SweepResult:
        now = self._clock.now()
        requeued = failed = 0
        for job in await self._store.expired(now, self._policy.lease_timeout, batch):
            event = job.expire(now, self._policy.max_retries)
            try:
                await self._store.save(job, event)
            except ConcurrentUpdate:
                continue  # the worker reported meanwhile: its lease is fresh again
            if event.to_status is Status.QUEUED:
                requeued += 1
            else:
                failed += 1
        return SweepResult(requeued, failed)
