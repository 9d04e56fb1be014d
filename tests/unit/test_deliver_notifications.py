"""DeliverNotifications with the in-memory outbox and recording notifiers: retries with
backoff, give-ups, timeouts, bounded concurrency, exactly one message per key."""

from __future__ import annotations

import asyncio
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
