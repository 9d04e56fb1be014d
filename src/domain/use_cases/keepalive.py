"""The DECODE keep-alive probe: the user side learns of a deletion only from the 404 it
answers to a forwarded status, so active jobs' statuses are forwarded again now and then."""

from __future__ import annotations

from datetime import timedelta

from domain.ports import Clock, Outbox


class ProbeActiveJobs:
    """DECODE mode: re-forward the status of every active job at most every `interval`, so
    that a user's deletion (the user API's 404) reaches a running job."""

    def __init__(self, outbox: Outbox, clock: Clock, interval: timedelta) -> None:
        self._outbox = outbox
        self._clock = clock
        self._interval = interval

    async def __call__(self) -> int:
        now = self._clock.now()
        return await self._outbox.probe_active(now, now - self._interval)
