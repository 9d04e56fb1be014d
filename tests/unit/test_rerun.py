"""Re-runs in the domain: only an ended job, by its owner or an admin; attempts from events."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from domain.errors import Forbidden, IllegalTransition
from domain.jobs import Job, Status
from domain.pipelines.history import attempts_of
from domain.use_cases.rerun import JobAttempts, Requester, RerunJob
from tests.fakes.clock import FakeClock
from tests.fakes.store import InMemoryJobStore
from tests.unit.factories import T0, new_job


async def ended_job(store: InMemoryJobStore, status: Status) -> Job:
    job = await store.add(replace(new_job(), owner="alice"), T0)
    await store.save(job, job.claim("w1", T0))
    job = await store.get(job.id)
    event = job.report("w1", status, T0 + timedelta(seconds=1))
    await store.save(job, event)
    return await store.get(job.id)


@pytest.mark.parametrize("status", [Status.FINISHED, Status.ERROR])
async def test_an_ended_job_reruns_as_a_new_attempt(status: Status) -> None:
    store, clock = InMemoryJobStore(), FakeClock()
    job = await ended_job(store, status)
    rerun = await RerunJob(store, clock)(job.id, Requester("alice"))
    assert (rerun.status, rerun.attempts, rerun.worker) == (Status.QUEUED, 0, None)
    _, attempts = await JobAttempts(store, store)(job.id, Requester("alice"))
    assert [(a.number, a.status, a.requested_by, a.workers) for a in attempts] == [
        (1, status, "alice", ("w1",)),
        (2, Status.QUEUED, "alice", ()),
    ]


async def test_a_canceled_job_reruns_too() -> None:
    store = InMemoryJobStore()
    job = await store.add(replace(new_job(), owner="alice"), T0)
    await store.save(job, job.cancel(T0, "user"))
    assert (await RerunJob(store, FakeClock())(job.id, Requester("x", admin=True))).status is (
        Status.QUEUED
    )


async def test_only_the_owner_or_an_admin() -> None:
    store = InMemoryJobStore()
    job = await ended_job(store, Status.ERROR)
    with pytest.raises(Forbidden):
        await RerunJob(store, FakeClock())(job.id, Requester("bob"))
    with pytest.raises(Forbidden):
        await JobAttempts(store, store)(job.id, Requester("bob"))
    await RerunJob(store, FakeClock())(job.id, Requester("root", admin=True))


@pytest.mark.parametrize("status", [Status.QUEUED, Status.PULLED, Status.RUNNING])
def test_a_job_not_ended_does_not_rerun(status: Status) -> None:
    job = Job.create(1, new_job(), T0)
    job.status = status
    with pytest.raises(IllegalTransition):
        job.rerun("alice", T0)


def test_attempts_without_events_is_the_first_one() -> None:
    job = Job.create(1, replace(new_job(), owner="o"), T0)
    [only] = attempts_of(job, [])
    assert (only.number, only.status, only.ended_at, only.requested_by) == (
        1,
        Status.QUEUED,
        None,
        "o",
    )
