"""The attempts of a job, read from its events: each re-run starts a new one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.jobs import RERUN, Job, JobEvent, Status


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int  # from 1
    started_at: datetime
    requested_by: str | None  # the submitter for the first, who asked for each re-run
    status: Status  # where the attempt is now, or how it ended
    ended_at: datetime | None  # None while the attempt runs
    workers: tuple[str, ...]  # who claimed it during the attempt, in order


def is_rerun(event: JobEvent) -> bool:
    return event.to_status is Status.QUEUED and event.details == RERUN


def attempts_of(job: Job, events: Sequence[JobEvent]) -> list[Attempt]:
    """Oldest first; the last one is the current attempt."""
    starts: list[tuple[datetime, str | None]] = [(job.created_at, job.owner)]
    runs: list[list[JobEvent]] = [[]]
    for event in events:
        if is_rerun(event):
            starts.append((event.at, event.worker))
            runs.append([])
        else:
            runs[-1].append(event)
    attempts = []
    for number, ((started, by), run) in enumerate(zip(starts, runs, strict=True), start=1):
        status = run[-1].to_status if run else Status.QUEUED
        ended = run[-1].at if run and status.terminal else None
        workers = tuple(e.worker for e in run if e.to_status is Status.PULLED and e.worker)
        attempts.append(Attempt(number, started, by, status, ended, workers))
    return attempts
