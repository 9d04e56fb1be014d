"""One JobStore suite, run on the in-memory reference, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.errors import ConcurrentUpdate, JobNotFound
from domain.jobs import (
    App,
    Environment,
    FileKind,
    Handler,
    Hardware,
    Job,
    JobSpec,
    Meta,
    NewJob,
    Status,
    UploadPaths,
)
from domain.matching import WorkerOffer
from domain.ports import JobStore
from domain.transfers import Retry
from tests.contract.sql_support import BACKENDS, event_log_of, health_of, outbox_of, store_for

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_user_ids = itertools.count(1)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(backend: str, tmp_path: Path) -> AsyncIterator[JobStore]:
    async with store_for(backend, tmp_path) as store:
        yield store


def new_job(
    *,
    hardware: Hardware | None = None,
    environment: Environment | None = None,
    group: str | None = None,
    priority: int = 5,
) -> NewJob:
    user_id = next(_user_ids)
    spec = JobSpec(
        app=App(cmd=("decode", "fit"), env={"A": "1"}),
        handler=Handler(
            image_url="img:1",
            image_name="decode",
            files_down={"in.tif": f"u/in/{user_id}.tif"},
            files_up={FileKind.OUTPUT: "out", FileKind.LOG: "log"},
        ),
        meta=Meta(job_id=user_id, date_created="2026-03-01T12:00:00", extra={"user": "u"}),
        hardware=hardware or Hardware(),
    )
    paths = UploadPaths(f"u/{user_id}/out", f"u/{user_id}/log", f"u/{user_id}/art")
    return NewJob(spec, paths, environment=environment, group=group, priority=priority)


def offer(worker: str = "w1", **kwargs: Any) -> WorkerOffer:
    kwargs.setdefault("environment", Environment.LOCAL)
    kwargs.setdefault("memory", 1_000_000)
    return WorkerOffer(worker=worker, **kwargs)


async def claim(
    store: JobStore, o: WorkerOffer, limit: int = 1, at: datetime = T0, retry_different: bool = True
) -> list[int]:
    return [job.id for job in await store.claim(o, limit, at, retry_different=retry_different)]


async def add(store: JobStore, new: NewJob | None = None, at: datetime = T0) -> Job:
    return await store.add(new or new_job(), at)


async def test_add_and_get_round_trip_the_whole_job(store: JobStore) -> None:
    new = new_job(
        hardware=Hardware(2, 4000, "A100", "ampere", 40),
        group="lab",
        priority=7,
        environment=Environment.CLOUD,
    )
    job = await add(store, new)
    got = await store.get(job.id)
    assert got.spec == new.spec
    assert got.paths_upload == new.paths_upload
    assert (got.environment, got.group, got.priority) == (Environment.CLOUD, "lab", 7)
    assert (got.status, got.worker, got.attempts, got.created_at) == (Status.QUEUED, None, 0, T0)
    with pytest.raises(JobNotFound):
        await store.get(job.id + 1000)


async def test_claim_order_priority_then_age_then_id(store: JobStore) -> None:
    old_low = await add(store, new_job(priority=1), T0)
    young_high = await add(store, new_job(priority=9), T0 + timedelta(seconds=5))
    old_high = await add(store, new_job(priority=9), T0 + timedelta(seconds=1))
    twin = await add(store, new_job(priority=9), T0 + timedelta(seconds=1))
    later = T0 + timedelta(minutes=1)
    assert await claim(store, offer(), 4, later) == [
        old_high.id,
        twin.id,
        young_high.id,
        old_low.id,
    ]
    assert await claim(store, offer("w2"), 1, later) == []


@pytest.mark.parametrize(
    ("needs", "offered", "matches"),
    [
        (Hardware(cpu_cores=4), {"cpu_cores": 4}, True),
        (Hardware(cpu_cores=4), {"cpu_cores": 3}, False),
        (Hardware(memory=8000), {"memory": 8000}, True),
        (Hardware(memory=8000), {"memory": 7999}, False),
        (Hardware(gpu_mem=16), {"gpu_mem": 24}, True),
        (Hardware(gpu_mem=16), {"gpu_mem": 8}, False),
        (Hardware(gpu_model="A100"), {"gpu_model": "A100"}, True),
        (Hardware(gpu_model="A100"), {"gpu_model": "V100"}, False),
        (Hardware(gpu_model="A100"), {}, False),
        (Hardware(gpu_archi="ampere"), {"gpu_archi": "ampere"}, True),
        (Hardware(gpu_archi="ampere"), {"gpu_archi": "turing"}, False),
        (Hardware(), {"cpu_cores": 1, "memory": 0, "gpu_model": "X"}, True),
    ],
)
async def test_hardware_matching(
    store: JobStore, needs: Hardware, offered: dict[str, Any], matches: bool
) -> None:
    job = await add(store, new_job(hardware=needs))
    assert await claim(store, offer(**offered)) == ([job.id] if matches else [])


async def test_pinned_environment_at_once_any_environment_after_older_than(
    store: JobStore,
) -> None:
    cloud = await add(store, new_job(environment=Environment.CLOUD), T0)
    anywhere = await add(store, new_job(), T0)
    local = offer("lab", environment=Environment.LOCAL, older_than=60)
    assert await claim(store, local, 5, T0 + timedelta(seconds=30)) == []
    assert await claim(store, local, 5, T0 + timedelta(seconds=61)) == [anywhere.id]
    cloud_worker = offer("c1", environment=Environment.CLOUD, older_than=3600)
    assert await claim(store, cloud_worker, 5, T0 + timedelta(seconds=1)) == [cloud.id]


async def test_the_workers_groups_come_first(store: JobStore) -> None:
    urgent = await add(store, new_job(priority=9))
    other_group = await add(store, new_job(priority=8, group="lab-b"))
    mine = await add(store, new_job(priority=1, group="lab-a"))
    o = offer(groups=frozenset({"lab-a"}))
    assert await claim(store, o, 2) == [mine.id, urgent.id]
    assert await claim(store, offer("w2"), 1) == [other_group.id]


@pytest.mark.parametrize("retry_different", [True, False])
async def test_retry_different_uses_exact_identity(store: JobStore, retry_different: bool) -> None:
    job = await add(store)
    assert await claim(store, offer("gpu1")) == [job.id]
    held = await store.get(job.id)
    event = held.expire(T0 + timedelta(hours=1), max_retries=5)
    await store.save(held, event)
    expected_again = [] if retry_different else [job.id]
    assert await claim(store, offer("gpu1"), retry_different=retry_different) == expected_again
    if retry_different:
        assert await claim(store, offer("gpu10")) == [job.id]
    assert (await store.get(job.id)).attempts == 2


async def test_a_stale_save_is_refused(store: JobStore) -> None:
    job = await add(store)
    await claim(store, offer())
    first, second = await store.get(job.id), await store.get(job.id)
    await store.save(first, first.report("w1", Status.RUNNING, T0))
    with pytest.raises(ConcurrentUpdate):
        await store.save(second, second.report("w1", Status.ERROR, T0))
    assert (await store.get(job.id)).status is Status.RUNNING
    ghost = await store.get(job.id)
    ghost.id += 1000
    with pytest.raises(JobNotFound):
        await store.save(ghost, None)


async def test_held_by_and_expired_leases(store: JobStore) -> None:
    a, b, c = await add(store), await add(store), await add(store)
    await claim(store, offer("w1"), 2, T0)
    await claim(store, offer("w2"), 1, T0 + timedelta(seconds=100))
    assert sorted(j.id for j in await store.held_by("w1")) == [a.id, b.id]
    assert [j.id for j in await store.held_by("w2")] == [c.id]
    job = await store.get(a.id)
    await store.save(job, job.report("w1", Status.RUNNING, T0 + timedelta(seconds=90)))
    expired = await store.expired(T0 + timedelta(seconds=150), timedelta(seconds=60), 10)
    assert [j.id for j in expired] == [b.id]
    job = await store.get(b.id)
    await store.save(job, job.report("w1", Status.FINISHED, T0 + timedelta(seconds=151)))
    assert [j.id for j in await store.held_by("w1")] == [a.id]


async def test_events_are_recorded_in_order(store: JobStore) -> None:
    job = await add(store)
    await claim(store, offer())
    for n, status in enumerate((Status.RUNNING, Status.RUNNING, Status.FINISHED), start=1):
        current = await store.get(job.id)
        await store.save(current, current.report("w1", status, T0 + timedelta(seconds=n), f"s{n}"))
    events = await event_log_of(store).events(job.id)
    assert [(e.from_status, e.to_status) for e in events] == [
        (Status.QUEUED, Status.PULLED),
        (Status.PULLED, Status.RUNNING),
        (Status.RUNNING, Status.FINISHED),
    ]
    assert events[-1].details == "s3"
    assert all(e.worker == "w1" for e in events)
    assert (await store.get(job.id)).runtime_details == "s3"


async def _history(store: JobStore, worker: str) -> Job:
    job = await add(store)
    await claim(store, offer(worker))
    for status in (Status.RUNNING, Status.FINISHED):
        current = await store.get(job.id)
        await store.save(current, current.report(worker, status, T0))
    return job


async def test_outbox_is_ordered_per_job_and_redelivers(store: JobStore) -> None:
    a = await _history(store, "w1")
    b = await _history(store, "w2")
    box = outbox_of(store)
    due = await box.pending_updates(T0, 10)
    assert [(u.job_id, u.status) for u in due] == [
        (a.id, Status.PULLED),
        (a.id, Status.RUNNING),
        (a.id, Status.FINISHED),
        (b.id, Status.PULLED),
        (b.id, Status.RUNNING),
        (b.id, Status.FINISHED),
    ]
    assert due[0].user_job_id == a.spec.meta.job_id
    assert [u.job_id for u in await box.pending_updates(T0, 1)] == [a.id] * 3  # jobs, not rows
    assert {u.job_id for u in await box.pending_updates(T0, 10, exclude=[a.id])} == {b.id}
    await box.settle(
        [due[3].message_id], [Retry(due[0].message_id, T0 + timedelta(seconds=30), "down")]
    )
    due = await box.pending_updates(T0, 10)
    assert [(u.job_id, u.status) for u in due] == [(b.id, Status.RUNNING), (b.id, Status.FINISHED)]
    due = await box.pending_updates(T0 + timedelta(seconds=30), 10)
    assert [(u.job_id, u.status, u.attempts) for u in due][:2] == [
        (a.id, Status.PULLED, 1),
        (a.id, Status.RUNNING, 0),
    ]
    backlog = await box.backlog()
    assert (backlog.count, backlog.oldest) == (5, T0)
    await box.drop_updates(a.id)
    assert {u.job_id for u in await box.pending_updates(T0 + timedelta(days=1), 10)} == {b.id}


async def test_the_probe_writes_the_current_status_of_quiet_active_jobs(store: JobStore) -> None:
    box = outbox_of(store)
    done = await _history(store, "w1")
    quiet = await add(store)
    await claim(store, offer("w2"))
    current = await store.get(quiet.id)
    await store.save(current, current.report("w2", Status.RUNNING, T0, "epoch 2"))
    await add(store)  # queued: not probed
    pending = await box.pending_updates(T0 + timedelta(days=1), 10)
    await box.settle([m.message_id for m in pending], [])
    assert await box.probe_active(T0 + timedelta(seconds=30), T0) == 0  # changed at T0
    later = T0 + timedelta(minutes=2)
    assert await box.probe_active(later, later - timedelta(minutes=1)) == 1
    assert await box.probe_active(later, later - timedelta(minutes=1)) == 0  # one is pending
    [probe] = await box.pending_updates(later, 10)
    assert (probe.job_id, probe.status, probe.runtime_details) == (
        quiet.id,
        Status.RUNNING,
        "epoch 2",
    )
    assert probe.job_id != done.id


async def test_no_outbox_rows_without_a_user_api(backend: str, tmp_path: Path) -> None:
    async with store_for(backend, tmp_path, outbox=False) as store:
        await _history(store, "w1")
        assert await outbox_of(store).pending_updates(T0 + timedelta(days=1), 10) == []


async def test_canceled_events_can_skip_the_outbox(store: JobStore) -> None:
    job = await add(store)
    current = await store.get(job.id)
    await store.save(current, current.cancel(T0, "deleted by the user"))
    assert await outbox_of(store).pending_updates(T0, 10) == []
    assert [e.to_status for e in await event_log_of(store).events(job.id)] == [Status.CANCELED]


async def test_concurrent_claimers_never_share_a_job(backend: str, tmp_path: Path) -> None:
    async with store_for(backend, tmp_path) as store:
        jobs = 1000
        for _ in range(jobs):
            await store.add(new_job(), T0)
        seen: list[int] = []

        async def claimer(n: int) -> None:
            while True:
                got = await claim(store, offer(f"w{n}"), 3, T0 + timedelta(seconds=1))
                if not got:
                    return
                seen.extend(got)

        await asyncio.gather(*(claimer(n) for n in range(50)))
        assert len(seen) == jobs
        assert len(set(seen)) == jobs


async def test_the_health_probe_answers_while_the_database_does(store: JobStore) -> None:
    await health_of(store).ping()
