"""ForwardUpdates: the outbox reaches the user side in order per job, with backoff."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from domain.errors import NotAssigned
from domain.jobs import Status
from domain.transfers import StatusUpdate
from domain.use_cases.forwarding import BACKOFF_MAX, GATHER, ForwardUpdates, backoff
from domain.use_cases.keepalive import ProbeActiveJobs
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
    """The next is sent only once the last is recorded: a scheduler that dies or is cut off
    between the two sends at most that one again, never an older one after a newer."""
    await job_with_history(store, clock, 10, Status.RUNNING, Status.FINISHED)
    sink = FakeSink()
    forward = ForwardUpdates(store, store, clock, sink)
    assert await forward() == 1
    assert [u.status for u in sink.delivered] == [Status.PULLED]


async def test_a_bare_step_between_two_others_is_left_out_but_nothing_the_user_needs(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job = await claimed(store, clock, W, user_job_id=10)
    for status, details in [
        (Status.PREPROCESSING, None),
        (Status.RUNNING, "step 1"),
        (Status.POSTPROCESSING, None),
        (Status.FINISHED, None),
    ]:
        clock.advance(1)
        await ReportStatus(store, clock)(W, job.id, status, details)
    sink = FakeSink()
    assert await run_until_idle(ForwardUpdates(store, store, clock, sink)) == 5  # all settled
    # the first `pulled` (date_started), every detail, every terminal status; the latest last
    assert sink.delivered_by_job() == {10: ["pulled", "running", "finished"]}
    assert await store.pending_updates(clock.now() + BACKOFF_MAX, 100) == []


async def test_a_bare_last_step_is_sent_and_a_skipped_one_waits_for_the_next_to_succeed(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job_id = await job_with_history(store, clock, 10)
    clock.advance(1)
    await ReportStatus(store, clock)(W, job_id, Status.PREPROCESSING, None)
    clock.advance(1)
    await ReportStatus(store, clock)(W, job_id, Status.RUNNING, None)
    sink = FakeSink(lambda u: "down" if u.status is Status.RUNNING else "ok")
    forward = ForwardUpdates(store, store, clock, sink)
    assert await forward() == 1  # pulled
    assert await forward() == 0  # running fails: preprocessing is kept until it gets through
    pending = await store.pending_updates(clock.now() + BACKOFF_MAX, 10)
    assert [(u.status, u.attempts) for u in pending] == [
        (Status.PREPROCESSING, 1),  # the job's head carries the backoff
        (Status.RUNNING, 0),
    ]
    sink.outcome = lambda u: "ok"
    clock.advance(2)
    assert await forward() == 2  # running, and preprocessing with it
    assert sink.delivered_by_job() == {10: ["pulled", "running"]}


async def test_a_hanging_user_api_for_one_job_does_not_hold_back_the_others(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    slow = await job_with_history(store, clock, 10)
    for user_job_id in range(20, 30):
        await job_with_history(store, clock, user_job_id, Status.RUNNING)
    release = asyncio.Event()

    class Hanging(FakeSink):
        async def send(self, update: StatusUpdate) -> None:
            if update.job_id == slow:
                await release.wait()
            await super().send(update)

    sink = Hanging()
    forward = ForwardUpdates(store, store, clock, sink, concurrency=4, attempt_timeout=30)
    running = True
    task = asyncio.create_task(forward.run(lambda: running, 0.01))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if len(sink.delivered) == 20:
            break
    assert len(sink.delivered) == 20  # ten jobs, two updates each, beside the hanging one
    release.set()
    for _ in range(100):
        await asyncio.sleep(0.01)
        if len(sink.delivered) == 21:
            break
    running = False
    await task
    assert sink.delivered_by_job()[10] == ["pulled"]
    assert await store.pending_updates(clock.now() + BACKOFF_MAX, 100) == []


async def test_at_a_low_rate_updates_gather_instead_of_a_round_each(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    """A job's update every 2 ms, each answered in 3 ms: each read of the outbox takes
    those of `GATHER` seconds together (a round per answer would read it about a hundred
    times in 0.3 s), and every update arrives."""
    reads = 0
    read = store.pending_updates

    async def counted(*args: Any, **kwargs: Any) -> list[StatusUpdate]:
        nonlocal reads
        reads += 1
        return await read(*args, **kwargs)

    class Answering(FakeSink):
        async def send(self, update: StatusUpdate) -> None:
            await asyncio.sleep(0.003)
            await super().send(update)

    store.pending_updates = counted  # type: ignore[method-assign]
    sink = Answering()
    forward = ForwardUpdates(store, store, clock, sink)
    running = True
    task = asyncio.create_task(forward.run(lambda: running, 0.2))
    started = asyncio.get_running_loop().time()
    for user_job_id in range(150):
        await job_with_history(store, clock, user_job_id)
        await asyncio.sleep(0.002)
    for _ in range(100):
        await asyncio.sleep(0.01)
        if len(sink.delivered) == 150:
            break
    running = False
    await task
    seconds = asyncio.get_running_loop().time() - started
    assert len(sink.delivered) == 150
    assert reads <= seconds / GATHER + 5, (reads, seconds)


async def test_an_attempt_that_times_out_is_retried_later(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    await job_with_history(store, clock, 10)

    class Silent(FakeSink):
        async def send(self, update: StatusUpdate) -> None:
            await asyncio.sleep(10)

    forward = ForwardUpdates(store, store, clock, Silent(), attempt_timeout=0.05)
    assert await forward() == 0
    [pending] = await store.pending_updates(clock.now() + BACKOFF_MAX, 10)
    assert pending.attempts == 1


async def test_a_scheduler_that_may_no_longer_send_sends_nothing(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    await job_with_history(store, clock, 10, Status.RUNNING)
    sink = FakeSink()
    forward = ForwardUpdates(store, store, clock, sink, may_send=lambda: False)
    assert await forward() == 0
    assert sink.attempts == []
    assert len(await store.pending_updates(clock.now(), 10)) == 2


async def test_a_keep_alive_with_new_details_is_forwarded_and_one_without_is_not(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    job_id = await job_with_history(store, clock, 10, Status.RUNNING)
    report = ReportStatus(store, clock)
    await report(W, job_id, Status.RUNNING, None)
    await report(W, job_id, Status.RUNNING, "running details")  # the same details
    await report(W, job_id, Status.RUNNING, "log tail: epoch 3")
    sink = FakeSink()
    await run_until_idle(ForwardUpdates(store, store, clock, sink))
    assert [(u.status.value, u.runtime_details) for u in sink.delivered] == [
        ("pulled", None),
        ("running", "running details"),
        ("running", "log tail: epoch 3"),
    ]
    transitions = [(e.from_status, e.to_status) for e in await store.events(job_id)]
    assert transitions == [(Status.QUEUED, Status.PULLED), (Status.PULLED, Status.RUNNING)]


async def test_the_probe_re_forwards_active_jobs_at_most_once_per_interval(
    store: InMemoryJobStore, clock: FakeClock
) -> None:
    active = await job_with_history(store, clock, 10, Status.RUNNING)
    await job_with_history(store, clock, 20, Status.FINISHED)
    sink = FakeSink()
    forward = ForwardUpdates(store, store, clock, sink)
    probe = ProbeActiveJobs(store, clock, timedelta(seconds=60))
    await run_until_idle(forward)
    assert await probe() == 0  # changed less than a minute ago
    clock.advance(61)
    assert await probe() == 1
    assert await probe() == 0  # its probe is still pending
    sink.outcome = lambda u: "gone"  # the user deleted job 10 meanwhile
    await run_until_idle(forward)
    assert sink.attempts[-1].job_id == active
    assert (await store.get(active)).status is Status.CANCELED
    clock.advance(61)
    assert await probe() == 0  # nothing active any more


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
    pending, _ = await store.pending_updates(clock.now() + BACKOFF_MAX, 10)
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


@pytest.mark.parametrize("fault", ["changed", "bug"])
async def test_any_other_failure_of_the_sink_is_retried_later_and_stops_nothing(
    store: InMemoryJobStore, clock: FakeClock, fault: str
) -> None:
    await job_with_history(store, clock, 10)
    await job_with_history(store, clock, 20)
    failing = {10}
    sink = FakeSink(lambda u: fault if u.user_job_id in failing else "ok")
    forward = ForwardUpdates(store, store, clock, sink)

    assert await forward() == 1
    assert sink.delivered_by_job() == {20: ["pulled"]}
    [pending] = await store.pending_updates(clock.now() + BACKOFF_MAX, 10)
    assert (pending.user_job_id, pending.attempts) == (10, 1)
    failing.clear()
    clock.advance(1)
    assert await run_until_idle(forward) == 1
    assert sink.delivered_by_job() == {20: ["pulled"], 10: ["pulled"]}


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
