"""What an operator watches: the queue's state, read on demand (a read-only port)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from domain.jobs import Status


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """Counts and oldest times; a status without jobs may be absent from `jobs`."""

    jobs: Mapping[Status, int] = field(default_factory=dict)
    oldest_queued_at: datetime | None = None  # submission time of the oldest queued job
    outbox_backlog: int = 0  # status updates not yet delivered to the user side
    oldest_undelivered_at: datetime | None = None

    def count(self, status: Status) -> int:
        return self.jobs.get(status, 0)


class QueueStats(Protocol):
    async def snapshot(self) -> QueueSnapshot:
        """The queue as it is now (one consistent read where the store allows it);
        Unavailable when the store cannot be read."""
        ...
