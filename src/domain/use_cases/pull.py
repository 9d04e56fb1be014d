from __future__ import annotations

from dataclasses import replace

from domain.errors import InvalidInput
from domain.jobs import Job
from domain.matching import WorkerOffer
from domain.policy import QueuePolicy
from domain.ports import Clock, JobStore
from domain.workers import Principal


class PullJobs:
    """A worker claims up to `limit` jobs it can run."""

    def __init__(self, store: JobStore, clock: Clock, policy: QueuePolicy) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy

    async def __call__(self, principal: Principal, offer: WorkerOffer, limit: int) -> list[Job]:
        worker = principal.require_worker()
        if not 1 <= limit <= self._policy.max_pull:
            raise InvalidInput(f"limit must be between 1 and {self._policy.max_pull}")
        # Identity and environment come from the token, never from the query.
        offer = replace(offer, worker=worker, environment=principal.environment)
        return await self._store.claim(
            offer, limit, self._clock.now(), retry_different=self._policy.retry_different
        )
