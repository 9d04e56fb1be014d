"""PullJobs and JobStatus use cases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import Forbidden, InvalidInput, JobNotFound, NotAssigned
from domain.jobs import Environment, Hardware, Status
from domain.matching import WorkerOffer
from domain.policy import QueuePolicy
from domain.use_cases.pull import PullJobs
from domain.use_cases.report import JobStatus
from domain.workers import Principal
from tests.fakes.clock import FakeClock
from tests.fakes.store import InMemoryJobStore
from tests.unit.factories import new_job, worker

CLOUD, LOCAL = Environment.CLOUD, Environment.LOCAL


def pull(store: InMemoryJobStore, clock: FakeClock, **policy: object) -> PullJobs:
    return PullJobs(store, clock, QueuePolicy(**policy))  # type: ignore[arg-type]


def spoofed_offer(**kwargs: object) -> WorkerOffer:
    """An offer as parsed from a query string, claiming to be someone else, somewhere else."""
    return WorkerOffer(worker="somebody-else", environment=CLOUD, **kwargs)  # type: ignore[arg-type]


async def test_identity_and_environment_come_from_the_principal(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    cloud_job = await store.add(new_job(1, environment=CLOUD), clock.now())
    local_job = await store.add(new_job(2, environment=LOCAL), clock.now())
    local_worker = worker("lab-pc")  # not in `cloud`: a local worker

    got = await pull(store, clock)(local_worker, spoofed_offer(), limit=10)

    assert [j.id for j in got] == [local_job.id]
    assert got[0].worker == "lab-pc"
    assert (await store.get(cloud_job.id)).status is Status.QUEUED
    assert (await store.get(local_job.id)).worker == "lab-pc"


async def test_a_cloud_principal_gets_cloud_jobs(store: InMemoryJobStore, clock: FakeClock) -> None:
    cloud_job = await store.add(new_job(1, environment=CLOUD), clock.now())
    await store.add(new_job(2, environment=LOCAL), clock.now())
    offer = WorkerOffer(worker="x", environment=LOCAL)
    got = await pull(store, clock)(worker("aws-1", "cloud"), offer, limit=10)
    assert [(j.id, j.worker) for j in got] == [(cloud_job.id, "aws-1")]


async def test_the_offer_s_hardware_and_older_than_are_used(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    big = await store.add(new_job(1, hardware=Hardware(gpu_mem=24)), clock.now())
    small = await store.add(new_job(2, hardware=Hardware(gpu_mem=8)), clock.now())
    clock.advance(30)
    use_case = pull(store, clock)
    assert await use_case(worker(), spoofed_offer(gpu_mem=8, older_than=60), limit=5) == []
    [got] = await use_case(worker(), spoofed_offer(gpu_mem=8, older_than=10), limit=5)
    assert got.id == small.id
    assert (await store.get(big.id)).status is Status.QUEUED


async def test_claims_at_most_limit_jobs_in_claim_order(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    ids = [(await store.add(new_job(n, priority=n), clock.now())).id for n in range(5)]
    got = await pull(store, clock)(worker(), spoofed_offer(), limit=2)
    assert [j.id for j in got] == [ids[4], ids[3]]
    assert all(j.status is Status.PULLED for j in got)


async def test_an_empty_queue_gives_nothing(store: InMemoryJobStore, clock: FakeClock) -> None:
    assert await pull(store, clock)(worker(), spoofed_offer(), limit=1) == []


@pytest.mark.parametrize("limit", [0, -1, 11, 1000])
async def test_limit_out_of_bounds_is_invalid(
    store: InMemoryJobStore, clock: FakeClock, limit: int
) -> None:
    await store.add(new_job(), clock.now())
    with pytest.raises(InvalidInput, match="between 1 and 10"):
        await pull(store, clock, max_pull=10)(worker(), spoofed_offer(), limit)
    assert [j.status for j in store.all_jobs()] == [Status.QUEUED]


async def test_limit_bounds_are_inclusive(store: InMemoryJobStore, clock: FakeClock) -> None:
    for n in range(12):
        await store.add(new_job(n), clock.now())
    use_case = pull(store, clock, max_pull=10)
    assert len(await use_case(worker(), spoofed_offer(), 1)) == 1
    assert len(await use_case(worker(), spoofed_offer(), 10)) == 10


async def test_a_non_worker_may_not_pull(store: InMemoryJobStore, clock: FakeClock) -> None:
    await store.add(new_job(), clock.now())
    with pytest.raises(Forbidden):
        await pull(store, clock)(Principal("user", frozenset({"cloud"})), spoofed_offer(), 1)
    assert [j.status for j in store.all_jobs()] == [Status.QUEUED]


@pytest.mark.parametrize("retry_different", [True, False])
async def test_retry_different_comes_from_the_policy(
    store: InMemoryJobStore, clock: FakeClock, retry_different: bool
) -> None:
    added = await store.add(new_job(), clock.now())
    use_case = pull(store, clock, retry_different=retry_different)
    await use_case(worker("w1"), spoofed_offer(), 1)
    job = await store.get(added.id)
    job.expire(clock.advance(1000), max_retries=2)
    await store.save(job, None)

    again = await use_case(worker("w1"), spoofed_offer(), 1)
    assert len(again) == (0 if retry_different else 1)
    assert len(await use_case(worker("w2"), spoofed_offer(), 1)) == (1 if retry_different else 0)


async def test_job_status_for_the_holder(store: InMemoryJobStore, clock: FakeClock) -> None:
    added = await store.add(new_job(), clock.now())
    await pull(store, clock)(worker("w1"), spoofed_offer(), 1)
    assert await JobStatus(store)(worker("w1"), added.id) is Status.PULLED


async def test_job_status_is_not_found_for_anyone_else(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    added = await store.add(new_job(), clock.now())
    with pytest.raises(NotAssigned):
        await JobStatus(store)(worker("w1"), added.id)  # queued: nobody holds it
    await pull(store, clock)(worker("w1"), spoofed_offer(), 1)
    with pytest.raises(NotAssigned):
        await JobStatus(store)(worker("w2"), added.id)
    with pytest.raises(Forbidden):
        await JobStatus(store)(Principal("w1"), added.id)
    with pytest.raises(JobNotFound):
        await JobStatus(store)(worker("w1"), 999)


async def test_job_status_after_a_requeue_is_not_found_for_the_old_worker(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    added = await store.add(new_job(), clock.now())
    await pull(store, clock)(worker("w1"), spoofed_offer(), 1)
    job = await store.get(added.id)
    job.expire(clock.now() + timedelta(hours=1), max_retries=2)
    await store.save(job, None)
    with pytest.raises(NotAssigned):
        await JobStatus(store)(worker("w1"), added.id)
