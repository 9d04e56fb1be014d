"""The QueueStats port, run on the in-memory reference, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.sql.stats import SqlQueueStats
from adapters.sql.store import SqlJobStore
from domain.jobs import Report, Status
from domain.ports import JobStore
from domain.stats import QueueStats
from tests.contract.sql_support import BACKENDS, outbox_of, store_for
from tests.contract.test_job_store import T0, add, claim, offer
from tests.fakes.stats import InMemoryQueueStats
from tests.fakes.store import InMemoryJobStore


@pytest.fixture(params=BACKENDS)
async def both(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[JobStore, QueueStats]]:
    async with store_for(str(request.param), tmp_path) as store:
        if isinstance(store, InMemoryJobStore):
            yield store, InMemoryQueueStats(store)
        else:
            assert isinstance(store, SqlJobStore)
            yield store, SqlQueueStats(store._engine)


async def test_an_empty_queue(both: tuple[JobStore, QueueStats]) -> None:
    _, stats = both
    snapshot = await stats.snapshot()
    assert snapshot.count(Status.QUEUED) == 0
    assert snapshot.oldest_queued_at is None
    assert snapshot.outbox_backlog == 0
    assert snapshot.oldest_undelivered_at is None


async def test_counts_by_status_and_the_oldest_times(
    both: tuple[JobStore, QueueStats],
) -> None:
    store, stats = both
    first = await add(store, at=T0)
    await add(store, at=T0 + timedelta(seconds=10))
    await add(store, at=T0 + timedelta(seconds=20))
    later = T0 + timedelta(minutes=1)
    assert await claim(store, offer("w1"), 1, later) == [first.id]
    running = Report(first.id, "w1", Status.RUNNING, later + timedelta(seconds=5))
    assert await store.apply_report(running)

    snapshot = await stats.snapshot()
    assert snapshot.count(Status.QUEUED) == 2
    assert snapshot.count(Status.RUNNING) == 1
    assert snapshot.count(Status.PULLED) == 0
    assert snapshot.oldest_queued_at == T0 + timedelta(seconds=10)
    assert snapshot.outbox_backlog == 2  # pulled, running: not yet delivered
    assert snapshot.oldest_undelivered_at == later

    outbox = outbox_of(store)
    heads: dict[int, int] = {}  # each job's oldest message: what is delivered first
    for update in await outbox.pending_updates(later + timedelta(hours=1), 10):
        heads.setdefault(update.job_id, update.message_id)
    await outbox.settle(list(heads.values()), [])
    snapshot = await stats.snapshot()
    assert snapshot.outbox_backlog == 1  # one per job at a time: `running` is next
    assert snapshot.oldest_undelivered_at == later + timedelta(seconds=5)
