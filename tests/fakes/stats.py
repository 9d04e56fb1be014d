"""QueueStats over the in-memory job store: the reference the SQL stats are held to."""

from __future__ import annotations

from collections import Counter

from domain.jobs import Status
from domain.stats import QueueSnapshot
from tests.fakes.store import InMemoryJobStore


class InMemoryQueueStats:
    def __init__(self, store: InMemoryJobStore) -> None:
        self._store = store

    async def snapshot(self) -> QueueSnapshot:
        jobs = list(self._store._jobs.values())
        queued = [job.created_at for job in jobs if job.status is Status.QUEUED]
        messages = [m.created_at for m, _ in self._store._outbox.values() if m.created_at]
        return QueueSnapshot(
            jobs=dict(Counter(job.status for job in jobs)),
            oldest_queued_at=min(queued, default=None),
            outbox_backlog=len(messages),
            oldest_undelivered_at=min(messages, default=None),
        )
