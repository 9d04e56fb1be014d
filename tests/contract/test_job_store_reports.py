"""`JobStore.apply_report`, the one-step report, on the in-memory reference, SQLite and
PostgreSQL: it writes what `Job.report` + `save` would, and refuses what they would refuse."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from adapters.sql.postgres import postgres_store
from domain.errors import ConcurrentUpdate, IllegalTransition, Unavailable
from domain.jobs import Job, Report, Status
from domain.ports import JobStore
from domain.use_cases.report import ReportStatus
from domain.workers import Principal
from tests.contract.sql_support import event_log_of, outbox_of, pg_engine, pg_schema, store_for
from tests.contract.test_job_store import T0, add, backend, claim, offer, store

__all__ = ["backend", "store"]  # the fixtures, shared with the main suite

LATER = T0 + timedelta(seconds=30)
WORKER = Principal("w1", frozenset({"workers"}))


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def held(store: JobStore, worker: str = "w1") -> Job:
    job = await add(store)
    assert await claim(store, offer(worker)) == [job.id]
    return await store.get(job.id)


async def test_a_move_writes_the_job_its_event_and_its_message(store: JobStore) -> None:
    before = await held(store)
    assert await store.apply_report(Report(before.id, "w1", Status.RUNNING, LATER, "step 1"))

    after = await store.get(before.id)
    assert (after.status, after.worker, after.last_seen, after.updated_at) == (
        Status.RUNNING,
        "w1",
        LATER,
        LATER,
    )
    assert (after.runtime_details, after.attempts) == ("step 1", before.attempts)
    with pytest.raises(ConcurrentUpdate):  # the version moved on
        await store.save(before, None)
    last = (await event_log_of(store).events(before.id))[-1]
    assert (last.from_status, last.to_status, last.worker, last.details, last.at) == (
        Status.PULLED,
        Status.RUNNING,
        "w1",
        "step 1",
        LATER,
    )
    messages = await outbox_of(store).pending_updates(LATER, 10)
    assert [(m.status, m.runtime_details, m.user_job_id) for m in messages] == [
        (Status.PULLED, None, before.spec.meta.job_id),  # per job, the oldest first
        (Status.RUNNING, "step 1", before.spec.meta.job_id),
    ]


async def test_a_keep_alive_renews_the_lease_and_forwards_only_new_details(
    store: JobStore,
) -> None:
    before = await held(store)
    assert await store.apply_report(Report(before.id, "w1", Status.PULLED, LATER, "alive"))
    after = await store.get(before.id)
    assert (after.status, after.last_seen, after.runtime_details) == (
        Status.PULLED,
        LATER,
        "alive",
    )
    assert after.updated_at == before.updated_at
    assert await store.apply_report(Report(before.id, "w1", Status.PULLED, LATER))
    assert (await store.get(before.id)).runtime_details == "alive"  # None keeps them
    assert await store.apply_report(Report(before.id, "w1", Status.PULLED, LATER, "alive"))
    assert [e.to_status for e in await event_log_of(store).events(before.id)] == [Status.PULLED]
    messages = await outbox_of(store).pending_updates(LATER, 10)
    assert [(m.status, m.runtime_details) for m in messages] == [
        (Status.PULLED, None),
        (Status.PULLED, "alive"),  # news once: the same details again are not
    ]


async def test_refused_reports_change_nothing(store: JobStore) -> None:
    job = await held(store)
    assert await store.apply_report(Report(job.id, "w1", Status.FINISHED, T0))
    queued = await add(store)
    before = [await store.get(job.id), await store.get(queued.id)]
    refused = [
        Report(job.id, "w2", Status.FINISHED, LATER),  # not the holder
        Report(job.id, "w1", Status.RUNNING, LATER),  # out of a terminal status
        Report(queued.id, "w1", Status.RUNNING, LATER),  # nobody holds it
        Report(job.id + 1000, "w1", Status.RUNNING, LATER),  # no such job
    ]
    for report in refused:
        assert not await store.apply_report(report)
    assert [await store.get(job.id), await store.get(queued.id)] == before
    assert len(await event_log_of(store).events(job.id)) == 2


async def test_a_canceled_job_refuses_its_worker(store: JobStore) -> None:
    job = await held(store)
    current = await store.get(job.id)
    await store.save(current, current.cancel(T0, "deleted by the user"))
    assert not await store.apply_report(Report(job.id, "w1", Status.RUNNING, LATER))
    assert (await store.get(job.id)).status is Status.CANCELED


async def test_the_holder_s_report_after_its_own_error_is_accepted_and_changes_nothing(
    store: JobStore,
) -> None:
    """DECODE's fetcher reports `postprocessing` after `error`: 204, nothing written."""
    job = await held(store)
    report = ReportStatus(store, FixedClock(LATER))
    await report(WORKER, job.id, Status.ERROR, "exit_code: 1")
    before = await store.get(job.id)
    messages = await outbox_of(store).pending_updates(LATER, 100)
    for status in (Status.POSTPROCESSING, Status.RUNNING, Status.FINISHED, Status.PULLED):
        await report(WORKER, job.id, status, "late")  # no exception: the API says 204
    assert await store.get(job.id) == before
    assert await outbox_of(store).pending_updates(LATER, 100) == messages
    events = await event_log_of(store).events(job.id)
    assert [e.to_status for e in events] == [Status.PULLED, Status.ERROR]


async def test_canceled_under_lists_the_worker_s_canceled_jobs_latest_first(
    store: JobStore,
) -> None:
    first, second, other = await held(store), await held(store), await held(store, "w2")
    running = await held(store)
    for n, job in enumerate((first, second, other), start=1):
        current = await store.get(job.id)
        await store.save(current, current.cancel(T0 + timedelta(seconds=n), "deleted"))
    assert [j.id for j in await store.canceled_under("w1", 10)] == [second.id, first.id]
    assert [j.id for j in await store.canceled_under("w1", 1)] == [second.id]
    assert [j.id for j in await store.canceled_under("w2", 10)] == [other.id]
    assert await store.canceled_under("w3", 10) == []
    assert running.id not in [j.id for j in await store.canceled_under("w1", 10)]


async def test_concurrent_reports_leave_one_consistent_history(
    backend: str, tmp_path: Path
) -> None:
    """Through the use case, as the API runs them: a refused one-step report (or one that
    lost a race, which SQLite reports as refused) takes the read-and-save path."""
    async with store_for(backend, tmp_path) as store:
        job = await held(store)
        report = ReportStatus(store, FixedClock(LATER))
        statuses = [Status.RUNNING, Status.POSTPROCESSING, Status.FINISHED, Status.ERROR] * 5
        outcomes = await asyncio.gather(
            *(report(WORKER, job.id, s, f"r{n}") for n, s in enumerate(statuses)),
            return_exceptions=True,
        )
        assert all(o is None or isinstance(o, IllegalTransition) for o in outcomes), outcomes
        events = await event_log_of(store).events(job.id)
        # Every status change is one event, chained from the previous one: none was lost
        # or written from a stale read.
        for earlier, later in itertools.pairwise(events):
            assert later.from_status is earlier.to_status
        final = await store.get(job.id)
        assert final.status is events[-1].to_status
        assert final.status.terminal


async def test_reports_arriving_together_are_each_applied_or_refused_on_their_own(
    store: JobStore,
) -> None:
    """Concurrent reports (which the PostgreSQL store sends as one batch) each get their own
    answer; two reports for one job apply in turn."""
    jobs = [await held(store, f"w{n}") for n in range(12)]
    reports = [
        *(Report(job.id, f"w{n}", Status.RUNNING, LATER, f"d{n}") for n, job in enumerate(jobs)),
        *(Report(job.id, "intruder", Status.FINISHED, LATER) for job in jobs[:4]),
        Report(jobs[0].id, "w0", Status.FINISHED, LATER),  # after its RUNNING, in turn
        Report(jobs[1].id, "w1", Status.QUEUED, LATER),  # never accepted from a worker
        Report(jobs[-1].id + 1000, "w0", Status.RUNNING, LATER),  # no such job
    ]
    applied = await asyncio.gather(*(store.apply_report(r) for r in reports))
    assert applied == [True] * 12 + [False] * 4 + [True, False, False]
    got = [await store.get(job.id) for job in jobs]
    assert [job.status for job in got] == [Status.FINISHED] + [Status.RUNNING] * 11
    assert [job.runtime_details for job in got[1:]] == [f"d{n}" for n in range(1, 12)]
    assert [e.to_status for e in await event_log_of(store).events(jobs[0].id)] == [
        Status.PULLED,
        Status.RUNNING,
        Status.FINISHED,
    ]
    assert all(job.worker == f"w{n}" for n, job in enumerate(got))


@pytest.mark.postgres
async def test_a_job_locked_too_long_is_a_503_not_a_500() -> None:
    async with (
        pg_schema() as schema,
        pg_engine(schema) as engine,
        postgres_store(
            engine,
            size=2,
            outbox=False,
            server_settings={"search_path": schema, "lock_timeout": "50ms"},
        ) as store,
    ):
        job = await held(store)
        async with engine.connect() as blocker:
            await blocker.execute(
                text("SELECT 1 FROM jobs WHERE id = :id FOR UPDATE"), {"id": job.id}
            )
            with pytest.raises(Unavailable, match="LockNotAvailable"):
                await store.apply_report(Report(job.id, "w1", Status.RUNNING, LATER))
            await blocker.rollback()
        assert await store.apply_report(Report(job.id, "w1", Status.RUNNING, LATER))
