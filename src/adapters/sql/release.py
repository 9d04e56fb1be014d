"""Give back jobs claimed for a caller that is gone: no claim stays `pulled` unknown to its
worker (it would wait out its lease, burn a retry and mark the worker as having tried it).

A batched claim commits for every member of its statement; a member whose caller was
cancelled meanwhile (its client went away, the server is stopping) never hands its jobs out.
They go back to the queue as they were before the claim: queued, not counted as an attempt,
not tried by that worker, with their undelivered `pulled` message withdrawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.codec import event_row
from adapters.sql.engine import transaction
from adapters.sql.tables import job_attempts, job_events, jobs, outbox
from domain.jobs import JobEvent, Status

GIVEN_BACK = "given back: the worker's request ended before it got the job"


async def give_back(
    engine: AsyncEngine, job_ids: Sequence[int], worker: str, now: datetime
) -> None:
    """Requeue those of `job_ids` that `worker` still holds untouched since its claim."""
    if not job_ids:
        return
    held = (
        jobs.c.id.in_(job_ids),
        jobs.c.worker == worker,
        jobs.c.status == Status.PULLED.value,
    )
    async with transaction(engine) as s:
        claims = (
            await s.execute(select(jobs.c.id, jobs.c.last_seen).where(*held).with_for_update())
        ).all()
        if not claims:
            return
        await s.execute(
            update(jobs)
            .where(*held)
            .values(
                status=Status.QUEUED.value,
                worker=None,
                last_seen=None,
                attempts=jobs.c.attempts - 1,
                updated_at=now,
                version=jobs.c.version + 1,
            )
        )
        await _forget_claims(s, claims, worker, now)


async def _forget_claims(
    s: AsyncConnection, claims: Sequence[Row[tuple[int, datetime]]], worker: str, now: datetime
) -> None:
    """Undo what the claims recorded beside the jobs: the worker's attempts, the claims'
    undelivered `pulled` messages; record each give-back as an event."""
    released = [claim.id for claim in claims]
    await s.execute(
        delete(job_attempts).where(
            job_attempts.c.job_id.in_(released), job_attempts.c.worker == worker
        )
    )
    for claim in claims:  # the claim's `pulled` message, if not delivered yet
        await s.execute(
            delete(outbox).where(
                outbox.c.job_id == claim.id,
                outbox.c.status == Status.PULLED.value,
                outbox.c.created_at == claim.last_seen,
            )
        )
    events = [
        JobEvent(job_id, now, Status.PULLED, Status.QUEUED, worker, GIVEN_BACK, notify=False)
        for job_id in released
    ]
    await s.execute(insert(job_events), [event_row(e) for e in events])
