"""DeliverNotifications with the in-memory outbox and recording notifiers: retries with
backoff, give-ups, timeouts, bounded concurrency, exactly one message per key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from domain.errors import InvalidInput, Rejected, Unavailable
from domain.jobs import Status
from domain.notify.deliver import DeliverNotifications, DeliveryPolicy
from domain.notify.model import Channel, JobChange, NotifyPolicy, Recipients, State
from domain.notify.model import notifications_for as due_for
from tests.fakes.clock import FakeClock
from tests.fakes.notify import InMemoryNotificationOutbox, RecordingNotifier

WHO = Recipients(email="ada@example.org", webhook_url="https://h.example.org/x", webhook_secret="k")


def change(job_id: int, status: Status = Status.FINISHED) -> JobChange:
    return JobChange(username="ada", job_id=job_id, job_name=f"job {job_id}", status=status)


class World:
    def __init__(self, policy: DeliveryPolicy | None = None) -> None:
        self.clock = FakeClock()
        self.outbox = InMemoryNotificationOutbox()
        self.mail, self.hooks = RecordingNotifier(), RecordingNotifier()
        self.policy = policy or DeliveryPolicy(timeout=1.0)
        self.deliver = self.deliverer()

    def deliverer(self) -> DeliverNotifications:
        notifiers = {Channel.EMAIL: self.mail, Channel.WEBHOOK: self.hooks}
        return DeliverNotifications(self.outbox, notifiers, self.clock, self.policy)

    async def enqueue(self, *job_ids: int) -> None:
        for job_id in job_ids:
            due = due_for(change(job_id), WHO, NotifyPolicy())
            await self.outbox.enqueue(due, self.clock.now())


async def test_each_due_notification_is_sent_once() -> None:
    world = World()
    await world.enqueue(1, 2)
    result = await world.deliver()
    assert (result.claimed, result.sent, result.retried, result.failed) == (4, 4, 0, 0)
    assert sorted(n.change.job_id for n, _ in world.mail.sent) == [1, 2]
    assert [m.subject for _, m in world.hooks.sent] == [
        "Job job 1 (id=1) finished",
        "Job job 2 (id=2) finished",
    ]
    assert (await world.deliver()).claimed == 0
    world.clock.advance(10_000)
    assert (await world.deliver()).claimed == 0


async def test_unavailable_is_retried_with_growing_backoff_then_sent_once() -> None:
    world = World()
    world.mail.fail = lambda n, index: Unavailable("421 busy") if index < 3 else None
    await world.enqueue(1)
    await world.deliver()
    waits = []
    for _ in range(3):
        [state] = [s for s in await world.outbox.states(1) if s.channel is Channel.EMAIL]
        assert state.state is State.PENDING
        before = len(world.mail.attempts)
        world.clock.advance(1)
        await world.deliver()
        waited = 1
        while len(world.mail.attempts) == before:
            world.clock.advance(1)
            waited += 1
            await world.deliver()
        waits.append(waited)
    assert waits == [2, 4, 8]  # 2 s, 4 s, 8 s after each failure
    assert len(world.mail.sent) == 1
    assert len(world.mail.attempts) == 4
    states = {s.channel: s for s in await world.outbox.states(1)}
    assert states[Channel.EMAIL].state is State.DELIVERED
    assert states[Channel.EMAIL].attempts == 3
    assert len(world.hooks.sent) == 1  # the other channel was not held back


async def test_a_refusal_is_given_up_at_once_and_kept() -> None:
    world = World()
    world.hooks.fail = lambda n, index: Rejected("410 gone")
    await world.enqueue(1)
    result = await world.deliver()
    assert (result.sent, result.failed) == (1, 1)
    world.clock.advance(100_000)
    await world.deliver()
    assert len(world.hooks.attempts) == 1
    hook = next(s for s in await world.outbox.states(1) if s.channel is Channel.WEBHOOK)
    assert hook.state is State.FAILED
    assert hook.last_error == "refused: 410 gone"


async def test_out_of_attempts_is_given_up() -> None:
    world = World(DeliveryPolicy(max_attempts=3, timeout=1.0))
    world.mail.fail = lambda n, index: Unavailable("down")
    await world.enqueue(1)
    for _ in range(10):
        await world.deliver()
        world.clock.advance(3600)
    assert len(world.mail.attempts) == 3
    mail = next(s for s in await world.outbox.states(1) if s.channel is Channel.EMAIL)
    assert (mail.state, mail.attempts) == (State.FAILED, 3)
    assert mail.last_error == "3 attempts failed, last: down"


async def test_a_slow_send_times_out_and_is_retried() -> None:
    world = World(DeliveryPolicy(timeout=0.05))
    world.mail.delay = 5.0
    await world.enqueue(1)
    result = await asyncio.wait_for(world.deliver(), 2)
    assert (result.sent, result.retried) == (1, 1)
    mail = next(s for s in await world.outbox.states(1) if s.channel is Channel.EMAIL)
    assert mail.state is State.PENDING
    assert mail.last_error is not None
    assert "timed out" in mail.last_error


async def test_a_crashing_sender_does_not_stop_the_others() -> None:
    world = World()

    def crash(n: object, index: int) -> None:
        raise RuntimeError("bug")

    world.mail.fail = crash  # type: ignore[assignment]
    await world.enqueue(1, 2)
    result = await world.deliver()
    assert (result.sent, result.retried) == (2, 2)
    world.clock.advance(2)
    world.mail.fail = lambda n, index: InvalidInput("odd")
    assert (await world.deliver()).retried == 2


async def test_concurrency_is_shared_across_channels() -> None:
    world = World(DeliveryPolicy(concurrency=2, timeout=5.0))
    in_flight: list[int] = []
    current = 0

    async def observe() -> None:
        nonlocal current
        current += 1
        in_flight.append(current)
        await asyncio.sleep(0.01)
        current -= 1

    world.mail.delay = world.hooks.delay = 0.0
    original_mail, original_hook = world.mail.send, world.hooks.send

    async def mail_send(n, m):  # type: ignore[no-untyped-def]
        await observe()
        await original_mail(n, m)

    async def hook_send(n, m):  # type: ignore[no-untyped-def]
        await observe()
        await original_hook(n, m)

    world.mail.send = mail_send  # type: ignore[method-assign]
    world.hooks.send = hook_send  # type: ignore[method-assign]
    await world.enqueue(*range(1, 6))
    assert (await world.deliver()).sent == 10
    assert max(in_flight) == 2


async def test_no_sender_for_a_channel_gives_it_up() -> None:
    world = World()
    await world.enqueue(1)
    deliver = DeliverNotifications(
        world.outbox, {Channel.WEBHOOK: world.hooks}, world.clock, world.policy
    )
    result = await deliver()
    assert (result.sent, result.failed) == (1, 1)
    mail = next(s for s in await world.outbox.states(1) if s.channel is Channel.EMAIL)
    assert mail.last_error == "no email sender is configured"


async def test_a_restarted_deliverer_sends_nothing_twice() -> None:
    world = World()
    await world.enqueue(1)
    await world.deliver()
    # A restart: a new use case over the same outbox; the user side repeats its enqueue.
    await world.enqueue(1)
    restarted = world.deliverer()
    world.clock.advance(100_000)
    assert (await restarted()).claimed == 0
    assert len(world.mail.sent) == len(world.hooks.sent) == 1


async def test_a_deliverer_that_died_mid_send_is_taken_over_after_the_hold() -> None:
    world = World(DeliveryPolicy(timeout=1.0))
    await world.enqueue(1)
    held = await world.outbox.due(world.clock.now(), 10, world.policy.hold)  # then it died
    assert len(held) == 2
    assert (await world.deliver()).claimed == 0
    world.clock.advance(world.policy.hold.total_seconds())
    assert (await world.deliver()).sent == 2


@pytest.mark.parametrize(("attempts", "seconds"), [(0, 2), (1, 4), (5, 64), (11, 3600), (99, 3600)])
def test_backoff_doubles_up_to_a_cap(attempts: int, seconds: int) -> None:
    assert DeliveryPolicy().backoff(attempts) == timedelta(seconds=seconds)


# -- serve: the loop's pipeline ------------------------------------------------------------


async def serve_until(world: World, done: Callable[[], bool]) -> float:
    """Serve until `done()`; how long that took (seconds)."""
    stopping = asyncio.Event()
    started = asyncio.get_running_loop().time()
    server = asyncio.create_task(world.deliver.serve(stopping, interval=0.01))
    try:
        async with asyncio.timeout(5):
            while not done():  # noqa: ASYNC110 (the condition is the fakes' state)
                await asyncio.sleep(0.005)
        return asyncio.get_running_loop().time() - started
    finally:
        stopping.set()
        await asyncio.wait_for(server, 5)


async def test_serve_keeps_slots_busy_past_a_slow_attempt() -> None:
    world = World(DeliveryPolicy(concurrency=2, timeout=3.0))
    original = world.hooks.send

    async def stuck_on_job_1(n, m):  # type: ignore[no-untyped-def]
        if n.change.job_id == 1:
            await asyncio.Event().wait()  # until the attempt times out
        await original(n, m)

    world.hooks.send = stuck_on_job_1  # type: ignore[method-assign]
    await world.enqueue(1, 2, 3, 4)
    # Job 1's webhook holds one slot; the other slot sends the 7 others one after another.
    took = await serve_until(world, lambda: len(world.mail.sent) + len(world.hooks.sent) == 7)
    assert took < 2.5  # before job 1's attempt timed out
    assert {n.change.job_id for n, _ in world.hooks.sent} == {2, 3, 4}


async def test_serve_never_exceeds_the_concurrency() -> None:
    world = World(DeliveryPolicy(concurrency=3, timeout=10.0))
    world.mail.delay = world.hooks.delay = 0.01
    await world.enqueue(*range(1, 11))
    await serve_until(world, lambda: len(world.mail.sent) + len(world.hooks.sent) == 20)
    assert world.mail.most_in_flight + world.hooks.most_in_flight <= 3 + 1


async def test_serve_survives_an_outbox_outage() -> None:
    world = World()
    real_due = world.outbox.due
    calls = 0

    async def flaky_due(now, limit, hold):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise Unavailable("database unavailable")
        return await real_due(now, limit, hold)

    world.outbox.due = flaky_due  # type: ignore[method-assign]
    await world.enqueue(1)
    await serve_until(world, lambda: len(world.mail.sent) == len(world.hooks.sent) == 1)
    assert calls > 3


async def test_stopping_serve_lets_the_attempts_in_flight_end() -> None:
    world = World(DeliveryPolicy(timeout=0.2))
    world.mail.delay = 60.0
    await world.enqueue(1)
    stopping = asyncio.Event()
    server = asyncio.create_task(world.deliver.serve(stopping, interval=0.01))
    async with asyncio.timeout(5):
        while not world.mail.attempts:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    stopping.set()
    await asyncio.wait_for(server, 2)
    mail = next(s for s in await world.outbox.states(1) if s.channel is Channel.EMAIL)
    assert (mail.state, mail.attempts) == (State.PENDING, 1)  # timed out, counted, retried


async def test_cancelling_serve_cancels_what_is_in_flight() -> None:
    world = World(DeliveryPolicy(timeout=60.0))
    world.mail.delay = 60.0
    await world.enqueue(1)
    server = asyncio.create_task(world.deliver.serve(asyncio.Event(), interval=0.01))
    async with asyncio.timeout(5):
        while not world.mail.attempts:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    server.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(server, 2)
    assert world.mail.sent == []
    # Still pending: it comes back after the hold, for whoever delivers next.
    mail = next(s for s in await world.outbox.states(1) if s.channel is Channel.EMAIL)
    assert (mail.state, mail.attempts) == (State.PENDING, 0)
