"""The embedded default's StatusSink on SQLite and PostgreSQL: the updates delivered at once
reach their user jobs together, in a transaction or two rather than one each; a queue job no
user job owns is passed over; a job whose step fails fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.user_jobs import SqlUserJobStore
from adapters.userapi.inprocess import InProcessStatusSink
from domain.jobs import Status
from domain.transfers import StatusUpdate
from domain.userjobs.notices import NotifyRule
from domain.userjobs.use_cases import ApplyUserStatus
from tests.contract.sql_support import sql_engine
from tests.contract.test_user_job_store import RecordingNotifications, draft, queue_job
from tests.fakes.clock import FakeClock

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with sql_engine(request.param, tmp_path) as engine:
        yield engine


def update(job_id: int, status: Status, details: str | None = None) -> StatusUpdate:
    return StatusUpdate(0, job_id, 0, status, details)


async def test_updates_sent_at_once_are_applied_together(engine: AsyncEngine) -> None:
    notes = RecordingNotifications()
    store = SqlUserJobStore(engine, notes)
    sink = InProcessStatusSink(ApplyUserStatus(store, FakeClock(), NotifyRule()))
    owned = [(await store.submit(draft(f"j{n}"), None, queue_job))[0] for n in range(20)]
    transactions = 0

    def began(*_: Any) -> None:
        nonlocal transactions
        transactions += 1

    event.listen(engine.sync_engine, "begin", began)
    try:
        sends = [sink.send(update(job.queue_job_id or 0, Status.FINISHED, "ok")) for job in owned]
        await asyncio.gather(*sends, sink.send(update(10_000, Status.RUNNING)))  # no owner
    finally:
        event.remove(engine.sync_engine, "begin", began)

    assert transactions <= 3  # one per job before: 21
    for job in owned:
        stored = await store.get("alice", job.id)
        assert (stored.status, stored.runtime_details) == (Status.FINISHED, "ok")
    assert sorted(n.user_job_id for n in notes.notices) == sorted(job.id for job in owned)


async def test_a_step_that_fails_fails_alone(engine: AsyncEngine) -> None:
    class Picky(RecordingNotifications):
        async def enqueue(self, transaction: Any, notices: Any) -> None:
            if any(notice.runtime_details == "poison" for notice in notices):
                raise ValueError("this notice cannot be recorded")
            await super().enqueue(transaction, notices)

    notes = Picky()
    store = SqlUserJobStore(engine, notes)
    sink = InProcessStatusSink(ApplyUserStatus(store, FakeClock(), NotifyRule()))
    good, bad = [(await store.submit(draft(f"j{n}"), None, queue_job))[0] for n in range(2)]

    sent = await asyncio.gather(
        sink.send(update(good.queue_job_id or 0, Status.FINISHED, "fine")),
        sink.send(update(bad.queue_job_id or 0, Status.ERROR, "poison")),
        return_exceptions=True,
    )

    assert sent[0] is None
    assert isinstance(sent[1], ValueError)
    assert (await store.get("alice", good.id)).status is Status.FINISHED
    assert (await store.get("alice", bad.id)).status is Status.QUEUED
