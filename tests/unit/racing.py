"""A JobStore wrapper for races: something else happens just before our save."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from domain.errors import ConcurrentUpdate
from domain.jobs import Job, JobEvent, Report
from tests.fakes.store import InMemoryJobStore


class RacingStore:
    """Delegates to the in-memory store; the first `races` saves are preceded by `meanwhile`
    (another writer, which makes the save fail with a genuine ConcurrentUpdate), or, without
    `meanwhile`, simply raise ConcurrentUpdate. One-step reports are always declined."""

    def __init__(
        self,
        inner: InMemoryJobStore,
        races: int = 1,
        meanwhile: Callable[[Job], Awaitable[None]] | None = None,
    ) -> None:
        self.inner = inner
        self.races = races
        self.meanwhile = meanwhile
        self.saves = 0

    async def apply_report(self, report: Report) -> bool:
        """Declined, so that reports take the read-and-save path the races are about."""
        return False

    async def save(self, job: Job, event: JobEvent | None) -> None:
        self.saves += 1
        if self.races > 0:
            self.races -= 1
            if self.meanwhile is None:
                raise ConcurrentUpdate(f"job {job.id} changed meanwhile (simulated)")
            await self.meanwhile(job)
        await self.inner.save(job, event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
