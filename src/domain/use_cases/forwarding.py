from __future__ import annotations

import logging
from datetime import timedelta

from domain.errors import ConcurrentUpdate, NotFound, Rejected, Unavailable
from domain.ports import Clock, JobStore, Outbox, StatusSink
from domain.transfers import StatusUpdate

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=1)
BACKOFF_MAX = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s, ... capped at 5 minutes."""
    return min(BACKOFF_BASE * (1 << min(attempts, 20)), BACKOFF_MAX)


class ForwardUpdates:
    """Deliver the outbox to the user side: at least once, in order per job, with backoff.

    A NotFound answer means the user deleted the job: the job is canceled, and the
    worker's next report gets 404.
    """

    def __init__(self, store: JobStore, outbox: Outbox, clock: Clock, sink: StatusSink) -> None:
        self._store = store
        self._outbox = outbox
        self._clock = clock
        self._sink = sink

    async def __call__(self, batch: int = 100) -> int:
        delivered = 0
        for update in await self._outbox.pending_updates(self._clock.now(), batch):
            try:
                await self._sink.send(update)
            except NotFound:
                await self._cancel(update)
            except Rejected as exc:
                log.error(
                    "user side rejected update %s of job %s for good, dropped: %s",
                    update.status,
                    update.job_id,
                    exc,
                )
                await self._outbox.delivered(update.message_id)
            except Unavailable as exc:
                at = self._clock.now() + backoff(update.attempts)
                await self._outbox.retry_later(update.message_id, at, str(exc))
                continue
            else:
                await self._outbox.delivered(update.message_id)
            delivered += 1
        return delivered

    async def _cancel(self, update: StatusUpdate) -> None:
        log.info(
            "user side deleted job %s: canceling queue job %s", update.user_job_id, update.job_id
        )
        await self._outbox.drop_updates(update.job_id)
        for _ in range(5):
            job = await self._store.get(update.job_id)
            event = job.cancel(self._clock.now(), "deleted by the user")
            try:
                await self._store.save(job, event)
            except ConcurrentUpdate:
                continue
            return
