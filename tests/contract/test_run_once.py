"""Run once on every JobStore: a key makes one job, under any concurrency; re-runs keep it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from domain.errors import Conflict
from domain.jobs import NewJob, Status
from domain.pipelines.keys import JobKey, KeyScope
from domain.ports import JobStore
from tests.contract.sql_support import BACKENDS, event_log_of, store_for
from tests.contract.test_job_store import T0, claim, new_job, offer


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobStore]:
    async with store_for(str(request.param), tmp_path) as store:
        yield store


def keyed(key: str = "k1", scope: KeyScope = KeyScope.ACTIVE, namespace: str = "ns") -> NewJob:
    return replace(new_job(), key=JobKey(namespace, key, scope), owner="alice")


async def finish(store: JobStore, job_id: int, status: Status = Status.FINISHED) -> None:
    assert await claim(store, offer("w1"), 1, T0 + timedelta(minutes=1)) == [job_id]
    job = await store.get(job_id)
    event = job.report("w1", status, T0 + timedelta(minutes=2))
    await store.save(job, event)


async def test_a_second_submission_of_a_key_returns_the_first_job(store: JobStore) -> None:
    first, created = await store.add_once(keyed(), T0)
    again, created_again = await store.add_once(keyed(), T0 + timedelta(seconds=1))
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert again.key == JobKey("ns", "k1", KeyScope.ACTIVE)
    assert again.owner == "alice"
    other, created_other = await store.add_once(keyed(namespace="other"), T0)
    assert created_other
    assert other.id != first.id
    plain = await store.add(new_job(), T0)
    assert plain.key is None


async def test_scope_active_frees_the_key_when_the_job_ends(store: JobStore) -> None:
    first, _ = await store.add_once(keyed(), T0)
    await finish(store, first.id)
    second, created = await store.add_once(keyed(), T0 + timedelta(minutes=3))
    assert created
    assert second.id != first.id
    third, created = await store.add_once(keyed(), T0 + timedelta(minutes=4))
    assert (third.id, created) == (second.id, False)


async def test_scope_forever_keeps_the_key_after_the_job_ends(store: JobStore) -> None:
    first, _ = await store.add_once(keyed(scope=KeyScope.FOREVER), T0)
    await finish(store, first.id, Status.ERROR)
    again, created = await store.add_once(keyed(), T0 + timedelta(minutes=3))
    assert (again.id, created, again.status) == (first.id, False, Status.ERROR)


async def test_64_concurrent_submissions_of_one_key_make_one_job(store: JobStore) -> None:
    results = await asyncio.gather(*(store.add_once(keyed("hot"), T0) for _ in range(64)))
    assert len({job.id for job, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert await claim(store, offer("w1"), 10, T0 + timedelta(minutes=1)) == [results[0][0].id]


async def test_a_rerun_is_a_new_attempt_of_the_same_job(store: JobStore) -> None:
    job, _ = await store.add_once(keyed(), T0)
    await finish(store, job.id, Status.ERROR)
    ended = await store.get(job.id)
    at = T0 + timedelta(minutes=5)
    await store.rerun(ended, ended.rerun("alice", at))
    rerun = await store.get(job.id)
    assert (rerun.status, rerun.attempts, rerun.worker, rerun.tried_by) == (
        Status.QUEUED,
        0,
        None,
        frozenset(),
    )
    assert rerun.key == job.key
    # the worker that failed it may take it again (RETRY_DIFFERENT counts within an attempt)
    assert await claim(store, offer("w1"), 1, at + timedelta(minutes=1)) == [job.id]
    events = await event_log_of(store).events(job.id)
    assert [(e.from_status, e.to_status, e.worker) for e in events] == [
        (Status.QUEUED, Status.PULLED, "w1"),
        (Status.PULLED, Status.ERROR, "w1"),
        (Status.ERROR, Status.QUEUED, "alice"),
        (Status.QUEUED, Status.PULLED, "w1"),
    ]
    # the key was live all along: a submission still finds the job
    again, created = await store.add_once(keyed(), at)
    assert (again.id, created) == (job.id, False)


async def test_a_rerun_refused_while_another_job_holds_the_key(store: JobStore) -> None:
    first, _ = await store.add_once(keyed(), T0)
    await finish(store, first.id)
    second, _ = await store.add_once(keyed(), T0 + timedelta(minutes=3))
    ended = await store.get(first.id)
    with pytest.raises(Conflict, match="another job holds"):
        await store.rerun(ended, ended.rerun("alice", T0 + timedelta(minutes=4)))
    assert (await store.get(first.id)).status is Status.FINISHED
    assert (await store.get(second.id)).status is Status.QUEUED
