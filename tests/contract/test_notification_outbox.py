"""One NotificationOutbox suite, run on the in-memory reference, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.jobs import Status
from domain.notify.model import (
    Channel,
    JobChange,
    Notification,
    NotifyPolicy,
    Recipients,
    State,
    notifications_for,
)
from tests.contract.notify_support import OutboxBackend, outbox_for
from tests.contract.sql_support import BACKENDS

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOLD = timedelta(seconds=90)
_job_ids = itertools.count(1000)


@pytest.fixture(params=BACKENDS)
async def box(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OutboxBackend]:
    async with outbox_for(str(request.param), tmp_path) as backend:
        yield backend


def change(status: Status = Status.FINISHED, job_id: int | None = None) -> JobChange:
    return JobChange(
        username="ada",
        job_id=next(_job_ids) if job_id is None else job_id,
        job_name="fit <beads> & co",
        status=status,
        date_created=T0,
        date_started=T0 + timedelta(minutes=1),
        date_finished=None,
        runtime_details="epoch 3\nloss 0.1",
    )


RECIPIENTS = Recipients(
    email="ada@example.org", webhook_url="https://hooks.example.org/j", webhook_secret="s3cret"
)


def both(c: JobChange) -> list[Notification]:
    return notifications_for(c, RECIPIENTS, NotifyPolicy())


async def test_a_notification_comes_back_as_it_went_in(box: OutboxBackend) -> None:
    c = change()
    assert await box.outbox.enqueue(both(c), T0) == 2
    due = await box.outbox.due(T0, 10, HOLD)
    assert [(n.channel, n.address, n.change, n.attempts) for n in due] == [
        (Channel.EMAIL, "ada@example.org", c, 0),
        (Channel.WEBHOOK, "https://hooks.example.org/j", c, 0),
    ]
    assert [n.secret for n in due] == [None, "s3cret"]
    assert len({n.id for n in due}) == 2


async def test_one_notification_per_job_status_and_channel_ever(box: OutboxBackend) -> None:
    c = change()
    assert await box.outbox.enqueue(both(c), T0) == 2
    assert await box.outbox.enqueue(both(c), T0) == 0
    # Another status of the same job is another notification.
    assert await box.outbox.enqueue(both(change(Status.ERROR, c.job_id)), T0) == 2
    for n in await box.outbox.due(T0, 10, HOLD):
        await box.outbox.delivered(n.id, T0)
    # Delivered ones still hold their key: a late repeat after a restart adds nothing.
    again = await box.reopen()
    assert await again.enqueue(both(c), T0 + HOLD) == 0
    assert await again.due(T0 + 10 * HOLD, 10, HOLD) == []
    states = await again.states(c.job_id)
    assert [(s.channel, s.status, s.state) for s in states] == [
        (Channel.EMAIL, Status.FINISHED, State.DELIVERED),
        (Channel.WEBHOOK, Status.FINISHED, State.DELIVERED),
        (Channel.EMAIL, Status.ERROR, State.DELIVERED),
        (Channel.WEBHOOK, Status.ERROR, State.DELIVERED),
    ]
    assert states[0].delivered_at == T0


async def test_due_claims_oldest_first_and_holds_what_it_claims(box: OutboxBackend) -> None:
    first, second = change(), change()
    await box.outbox.enqueue(both(first), T0)
    await box.outbox.enqueue(both(second), T0 + timedelta(seconds=1))
    assert await box.outbox.due(T0 - timedelta(seconds=1), 10, HOLD) == []  # not yet
    claimed = await box.outbox.due(T0 + timedelta(seconds=5), 3, HOLD)
    assert [n.change.job_id for n in claimed] == [first.job_id, first.job_id, second.job_id]
    rest = await box.outbox.due(T0 + timedelta(seconds=5), 10, HOLD)
    assert [(n.change.job_id, n.channel) for n in rest] == [(second.job_id, Channel.WEBHOOK)]
    assert await box.outbox.due(T0 + timedelta(seconds=6), 10, HOLD) == []
    # A deliverer that died: what it held comes back once the hold has passed.
    back = await (await box.reopen()).due(T0 + timedelta(seconds=5) + HOLD, 10, HOLD)
    assert sorted(n.id for n in back) == sorted(n.id for n in claimed + rest)


async def test_retry_later_counts_the_attempt_and_waits(box: OutboxBackend) -> None:
    await box.outbox.enqueue(both(change())[:1], T0)
    [n] = await box.outbox.due(T0, 10, HOLD)
    at = T0 + timedelta(seconds=30)
    await box.outbox.retry_later(n.id, at, "421 try later " + "x" * 5000)
    assert await box.outbox.due(at - timedelta(seconds=1), 10, HOLD) == []
    [again] = await box.outbox.due(at, 10, HOLD)
    assert (again.id, again.attempts) == (n.id, 1)
    [state] = await box.outbox.states(n.change.job_id)
    assert state.state is State.PENDING
    assert state.last_error is not None
    assert state.last_error.startswith("421 try later")
    assert len(state.last_error) == 1000


async def test_given_up_is_kept_failed_and_never_due(box: OutboxBackend) -> None:
    c = change()
    await box.outbox.enqueue(both(c)[:1], T0)
    [n] = await box.outbox.due(T0, 10, HOLD)
    await box.outbox.give_up(n.id, "550 no such user")
    assert await box.outbox.due(T0 + 100 * HOLD, 10, HOLD) == []
    [state] = await box.outbox.states(c.job_id)
    assert (state.state, state.attempts, state.last_error) == (
        State.FAILED,
        1,
        "550 no such user",
    )
    # A late report of the one that was given up changes nothing.
    await box.outbox.delivered(n.id, T0)
    assert (await box.outbox.states(c.job_id))[0].state is State.FAILED


async def test_concurrent_deliverers_never_get_the_same_notification(box: OutboxBackend) -> None:
    for _ in range(30):
        await box.outbox.enqueue(both(change()), T0)
    others = [await box.reopen() for _ in range(3)]
    rounds = await asyncio.gather(
        *(o.due(T0, 7, HOLD) for o in [box.outbox, *others] for _ in range(4))
    )
    ids = [n.id for claimed in rounds for n in claimed]
    assert len(ids) == len(set(ids)) == 60


async def test_forget_drops_a_deleted_jobs_notifications(box: OutboxBackend) -> None:
    gone, kept = change(), change()
    await box.outbox.enqueue(both(gone) + both(kept), T0)
    [first, *_] = await box.outbox.due(T0, 1, HOLD)
    await box.outbox.delivered(first.id, T0)
    await box.outbox.forget(gone.job_id)
    assert await box.outbox.states(gone.job_id) == []
    due = await box.outbox.due(T0 + HOLD, 10, HOLD)
    assert {n.change.job_id for n in due} == {kept.job_id}
    # Its keys are free again (a user side that reuses ids gets its notifications).
    assert await box.outbox.enqueue(both(gone), T0) == 2
