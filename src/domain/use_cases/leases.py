from __future__ import annotations

import logging
from dataclasses import dataclass

from domain.errors import ConcurrentUpdate
from domain.jobs import Job, JobEvent, Status
from domain.policy import QueuePolicy
from domain.ports import Clock, JobStore

log = logging.getLogger("jobcloud.leases")


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
            since = job.last_seen.isoformat(timespec="seconds") if job.last_seen else "?"
            silent = f"worker {job.worker} silent since {since}"
            held = job.status
            event = job.expire(now, self._policy.max_retries)
            try:
                await self._store.save(job, event)
            except ConcurrentUpdate:
                continue  # the worker reported meanwhile: its lease is fresh again
            self._log(job, event, f"lease expired ({held}, {silent})")
            if event.to_status is Status.QUEUED:
                requeued += 1
            else:
                failed += 1
        return SweepResult(requeued, failed)

    def _log(self, job: Job, event: JobEvent, why: str) -> None:
        ids = f"job {job.id} (user job {job.spec.meta.job_id})"
        if event.to_status is Status.QUEUED:
            log.info(
                "%s: %s; requeued after attempt %d of %d",
                ids,
                why,
                job.attempts,
                self._policy.max_retries + 1,
            )
        else:
            log.warning(
                "%s: %s; failed for good: max retries (%d) reached",
                ids,
                why,
                self._policy.max_retries,
            )
