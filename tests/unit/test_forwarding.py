"""ForwardUpdates: the outbox reaches the user side in order per job, with backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import NotAssigned
from domain.jobs import Status
from domain.use_cases.forwarding import BACKOFF_MAX, ForwardUpdates, backoff
from domain.use_cases.report import ReportStatus
from tests.fakes.clock import FakeClock
from tests.fakes.store import InMemoryJobStore
from tests.unit.factories import claimed, worker
from tests.unit.fake_sink import FakeSink

W = worker("w1")


async def job_with_history(
    store: InMemoryJobStore, clock: FakeClock, user_job_id: int, *path: Status
) -> int:
    job = await claimed(store, clock, W, user_job_id=user_job_id)
    for status in path:
        clock.advance(1)
        await ReportStatus(store, clock)(W, job.id, status, f"{status} details")
    return job.id


async def run_until_idle(forward: ForwardUpdates, rounds: int = 20) -> int:
    total = 0
    for _ in range(rounds):
        sent = await forward()
        if sent == 0:
            break
        total += sent
    return total


def test_backoff_doubles_from_one_second_up_to_five_minutes() -> None:
    assert [backoff(n).total_seconds() for n in range(5)] == [1, 2, 4, 8, 16]
    assert backoff(8).total_seconds() == 256
    assert backoff(9) == BACKOFF_MAX
    assert backoff(10_000) == BACKOFF_MAX


async def test_every_update_is_delivered_in_order_per_job(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    await job_with_history(store, clock, 10, Status.RUNNING, Status.FINISHED)
    await job_with_history(store, clock, 20, Status.PREPROCESSING, Status.ERROR)
    sink = FakeSink()

    assert await run_until_idle(ForwardUpdates(store, store, clock, sink)) == 6

    assert sink.delivered_by_job() == {
        10: ["pulled", "running", "finished"],
        20: ["pulled", "preprocessing", "error"],
    }
    [finished] = [u for u in sink.delivered if u.status is Status.FINISHED]
    assert (finished.user_job_id, finished.runtime_details) == (10, "finished details")
    assert await store.pending_updates(clock.now() + BACKOFF_MAX, 100) == []


async def test_one_round_sends_at_most_one_update_per_job(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    await job_with_history(store, clock, 10, Status.RUNNING, Status.FINISHED)
    sink = FakeSink()
    forward = ForwardUpdates(store, store, clock, sink)
    assert await forward() == 1
    assert [u.status for u in sink.delivered] == [Status.PULLED]


async def test_unavailable_retries_later_with_backoff_and_holds_back_the_job(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    await job_with_history(store, clock, 10, Status.RUNNING)
    await job_with_history(store, clock, 20)
    down = {10}
    sink = FakeSink(lambda u: "down" if u.user_job_id in down else "ok")
    forward = ForwardUpdates(store, store, clock, sink)

    assert await forward() == 1  # job 20 is not held back by job 10
    assert sink.delivered_by_job() == {20: ["pulled"]}
    [pending] = await store.pending_updates(clock.now() + BACKOFF_MAX, 10)
    assert (pending.user_job_id, pending.status, pending.attempts) == (10, Status.PULLED, 1)

    assert await forward() == 0  # not due yet: 1 s backoff
    clock.advance(1)
    assert await forward() == 0  # second failure: now 2 s
    assert len(sink.attempts) == 3
    clock.advance(1)
    assert await forward() == 0
    assert len(sink.attempts) == 3
    clock.advance(1)
    down.clear()
    assert await run_until_idle(forward) == 2

    statuses = [u.status.value for u in sink.attempts if u.user_job_id == 10]
    assert statuses == ["pulled", "pulled", "pulled", "running"]  # `running` waited
    assert sink.delivered_by_job()[10] == ["pulled", "running"]


async def test_not_found_cancels_the_job_and_drops_its_updates(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job_id = await job_with_history(store, clock, 10, Status.RUNNING)
    other = await job_with_history(store, clock, 20, Status.RUNNING)
    sink = FakeSink(lambda u: "gone" if u.user_job_id == 10 else "ok")

    await run_until_idle(ForwardUpdates(store, store, clock, sink))

    assert (await store.get(job_id)).status is Status.CANCELED
    assert [u.status.value for u in sink.attempts if u.user_job_id == 10] == ["pulled"]
    assert sink.delivered_by_job() == {20: ["pulled", "running"]}
    assert await store.pending_updates(clock.now() + BACKOFF_MAX, 100) == []
    last = (await store.events(job_id))[-1]
    assert (last.from_status, last.to_status, last.notify) == (
        Status.RUNNING,
        Status.CANCELED,
        False,
    )
    with pytest.raises(NotAssigned, match="canceled"):
        await ReportStatus(store, clock)(W, job_id, Status.FINISHED, None)
    assert (await store.get(other)).status is Status.RUNNING


async def test_not_found_for_a_finished_job_leaves_it_finished(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job_id = await job_with_history(store, clock, 10, Status.FINISHED)
    sink = FakeSink(lambda u: "gone")
    await run_until_idle(ForwardUpdates(store, store, clock, sink))
    assert (await store.get(job_id)).status is Status.FINISHED
    assert await store.pending_updates(clock.now() + timedelta(days=1), 100) == []


async def test_a_rejected_update_is_dropped_and_the_job_s_later_updates_still_flow(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    await job_with_history(store, clock, 10, Status.PREPROCESSING, Status.RUNNING)
    sink = FakeSink(lambda u: "refused" if u.status is Status.PREPROCESSING else "ok")

    await run_until_idle(ForwardUpdates(store, store, clock, sink))

    assert sink.delivered_by_job() == {10: ["pulled", "running"]}
    assert [u.status for u in sink.attempts] == [
        Status.PULLED,
        Status.PREPROCESSING,
        Status.RUNNING,
    ]
    assert await store.pending_updates(clock.now() + BACKOFF_MAX, 100) == []
