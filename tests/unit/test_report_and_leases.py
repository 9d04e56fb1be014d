"""ReportStatus (with retries on concurrent updates) and SweepLeases use cases."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from domain.errors import ConcurrentUpdate, Forbidden, IllegalTransition, NotAssigned
from domain.jobs import MAX_RETRIES_REACHED, Job, JobEvent, Status
from domain.matching import WorkerOffer
from domain.policy import QueuePolicy
from domain.use_cases.leases import SweepLeases, SweepResult
from domain.use_cases.report import ReportStatus
from domain.workers import Principal
from tests.fakes.clock import FakeClock
from tests.fakes.store import InMemoryJobStore
from tests.unit.factories import claimed, new_job, worker
from tests.unit.racing import RacingStore

W1, W2 = worker("w1"), worker("w2")
LEASE = 300
POLICY = QueuePolicy(max_retries=2, lease_timeout=timedelta(seconds=LEASE))


async def statuses(store: InMemoryJobStore, job_id: int) -> list[tuple[Status | None, Status]]:
    return [(e.from_status, e.to_status) for e in await store.events(job_id)]


async def test_a_report_moves_the_job_and_records_an_event(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job = await claimed(store, clock, W1)
    clock.advance(5)
    await ReportStatus(store, clock)(W1, job.id, Status.RUNNING, "epoch 1")

    saved = await store.get(job.id)
    assert (saved.status, saved.last_seen, saved.runtime_details) == (
        Status.RUNNING,
        clock.now(),
        "epoch 1",
    )
    events = await store.events(job.id)
    assert [(e.to_status, e.worker, e.details) for e in events] == [
        (Status.PULLED, "w1", None),
        (Status.RUNNING, "w1", "epoch 1"),
    ]
    assert [u.status for u in await store.pending_updates(clock.now(), 10)] == [
        Status.PULLED,
        Status.RUNNING,
    ]


async def test_a_keep_alive_refreshes_the_lease_and_records_nothing(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job = await claimed(store, clock, W1)
    clock.advance(LEASE - 1)
    await ReportStatus(store, clock)(W1, job.id, Status.PULLED, None)
    assert (await store.get(job.id)).last_seen == clock.now()
    assert await statuses(store, job.id) == [(Status.QUEUED, Status.PULLED)]
    clock.advance(LEASE - 1)
    assert await SweepLeases(store, clock, POLICY)() == SweepResult(0, 0)


async def test_refusals_leave_the_job_untouched(store: InMemoryJobStore, clock: FakeClock) -> None:
    job = await claimed(store, clock, W1)
    report = ReportStatus(store, clock)
    await report(W1, job.id, Status.RUNNING, "before")
    before = await store.get(job.id)
    with pytest.raises(NotAssigned):
        await report(W2, job.id, Status.FINISHED, "hijack")
    with pytest.raises(IllegalTransition):
        await report(W1, job.id, Status.PULLED, "backwards")
    with pytest.raises(Forbidden):
        await report(Principal("w1"), job.id, Status.FINISHED, "not a worker")
    assert await store.get(job.id) == before


class CountingStore:
    """Delegates to the in-memory store, counting reads and saves."""

    def __init__(self, inner: InMemoryJobStore) -> None:
        self.inner = inner
        self.reads_and_saves = 0

    async def get(self, job_id: int) -> Job:
        self.reads_and_saves += 1
        return await self.inner.get(job_id)

    async def save(self, job: Job, event: JobEvent | None) -> None:
        self.reads_and_saves += 1
        await self.inner.save(job, event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_legal_report_is_one_step_and_only_a_refusal_reads(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job = await claimed(store, clock, W1)
    counting = CountingStore(store)
    report = ReportStatus(counting, clock)  # type: ignore[arg-type]
    await report(W1, job.id, Status.RUNNING, None)
    await report(W1, job.id, Status.RUNNING, None)  # keep-alive
    assert counting.reads_and_saves == 0
    with pytest.raises(IllegalTransition):
        await report(W1, job.id, Status.PULLED, None)
    assert counting.reads_and_saves == 1


async def test_a_concurrent_update_is_retried(store: InMemoryJobStore, clock: FakeClock) -> None:
    job = await claimed(store, clock, W1)
    racing = RacingStore(store, races=1)
    await ReportStatus(racing, clock)(W1, job.id, Status.RUNNING, None)
    assert racing.saves == 2
    assert (await store.get(job.id)).status is Status.RUNNING
    assert await statuses(store, job.id) == [
        (Status.QUEUED, Status.PULLED),
        (Status.PULLED, Status.RUNNING),
    ]


async def test_the_retry_sees_what_the_other_writer_did(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job = await claimed(store, clock, W1)

    async def requeue_meanwhile(_: Job) -> None:
        current = await store.get(job.id)
        await store.save(current, current.expire(clock.now(), max_retries=2))

    racing = RacingStore(store, races=1, meanwhile=requeue_meanwhile)
    with pytest.raises(NotAssigned):
        await ReportStatus(racing, clock)(W1, job.id, Status.RUNNING, None)
    assert (await store.get(job.id)).status is Status.QUEUED


async def test_gives_up_after_repeated_concurrent_updates(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job = await claimed(store, clock, W1)
    racing = RacingStore(store, races=100)
    with pytest.raises(ConcurrentUpdate):
        await ReportStatus(racing, clock)(W1, job.id, Status.RUNNING, None)
    assert racing.saves == 5
    assert (await store.get(job.id)).status is Status.PULLED


async def test_sweep_requeues_silent_jobs_and_spares_live_ones(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    silent = await claimed(store, clock, W1)
    live = await claimed(store, clock, W2)
    clock.advance(LEASE)
    await ReportStatus(store, clock)(W2, live.id, Status.RUNNING, None)
    clock.advance(1)

    assert await SweepLeases(store, clock, POLICY)() == SweepResult(requeued=1, failed=0)
    requeued = await store.get(silent.id)
    assert (requeued.status, requeued.worker) == (Status.QUEUED, None)
    assert (await store.get(live.id)).status is Status.RUNNING
    with pytest.raises(NotAssigned):
        await ReportStatus(store, clock)(W1, silent.id, Status.RUNNING, None)


@pytest.mark.parametrize("max_retries", [0, 1, 2])
async def test_sweep_fails_a_job_after_max_retries(
    store: InMemoryJobStore, clock: FakeClock, max_retries: int
) -> None:
    policy = QueuePolicy(max_retries=max_retries, lease_timeout=timedelta(seconds=LEASE))
    added = await store.add(new_job(), clock.now())
    sweep = SweepLeases(store, clock, policy)
    for attempt in range(1, max_retries + 2):
        offer = WorkerOffer(f"w{attempt}", worker().environment)
        [got] = await store.claim(offer, 1, clock.now(), retry_different=True)
        assert got.attempts == attempt
        clock.advance(LEASE + 1)
        expected = SweepResult(0, 1) if attempt > max_retries else SweepResult(1, 0)
        assert await sweep() == expected

    failed = await store.get(added.id)
    assert (failed.status, failed.attempts) == (Status.ERROR, max_retries + 1)
    last = (await store.events(added.id))[-1]
    assert (last.to_status, last.details, last.notify) == (Status.ERROR, MAX_RETRIES_REACHED, True)
    assert await sweep() == SweepResult(0, 0)


async def test_sweep_counts_several_jobs_and_respects_the_batch(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    for n in range(4):
        await claimed(store, clock, worker(f"w{n}"))
    clock.advance(LEASE + 1)
    sweep = SweepLeases(store, clock, POLICY)
    assert await sweep(batch=3) == SweepResult(3, 0)
    assert await sweep(batch=3) == SweepResult(1, 0)


async def test_sweep_skips_a_job_whose_worker_reported_meanwhile(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job = await claimed(store, clock, W1)
    clock.advance(LEASE + 1)

    async def worker_reports(_: Job) -> None:
        await ReportStatus(store, clock)(W1, job.id, Status.RUNNING, None)

    racing = RacingStore(store, races=1, meanwhile=worker_reports)
    assert await SweepLeases(racing, clock, POLICY)() == SweepResult(0, 0)
    assert (await store.get(job.id)).status is Status.RUNNING


async def test_sweep_logs_one_line_per_job_with_its_ids(
    store: InMemoryJobStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    policy = QueuePolicy(max_retries=1, lease_timeout=timedelta(seconds=LEASE))
    added = await store.add(new_job(), clock.now())
    sweep = SweepLeases(store, clock, policy)
    user_job = added.spec.meta.job_id
    with caplog.at_level(logging.INFO, logger="jobcloud.leases"):
        for name in ("w1", "w2"):
            await store.claim(
                WorkerOffer(name, W1.environment), 1, clock.now(), retry_different=True
            )
            clock.advance(LEASE + 1)
            await sweep()
        await sweep()  # nothing left to expire: no line
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert len(lines) == 2, lines
    (level1, requeued), (level2, failed) = lines
    assert level1 == logging.INFO
    assert f"job {added.id} (user job {user_job})" in requeued
    assert "worker w1 silent since" in requeued
    assert "requeued after attempt 1 of 2" in requeued
    assert level2 == logging.WARNING
    assert "worker w2" in failed
    assert "failed for good: max retries (1) reached" in failed
