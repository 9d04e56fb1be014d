"""One bad request never hurts another (issue 9, item 1), on the in-memory reference, SQLite
and PostgreSQL: a value beyond what the store keeps is refused (InvalidInput) before it joins
anything shared, the same on every backend, and the requests that came with it succeed. On
PostgreSQL, where claims and reports arriving together share one statement, a statement that
fails anyway is split until only its culprit fails, and a claim whose caller is gone goes back
to the queue."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.sql.postgres import PostgresJobStore, _ClaimPass
from domain.errors import InvalidInput, JobNotFound
from domain.jobs import Environment, Meta, Report, Status
from domain.matching import WorkerOffer
from domain.ports import JobStore
from tests.contract.sql_support import event_log_of, outbox_of, store_for
from tests.contract.test_job_store import T0, add, backend, claim, new_job, offer, store

__all__ = ["backend", "store"]  # the fixtures, shared with the main suite

GOOD = 15  # workers asking together with the bad one, as in the run

BAD_OFFERS: dict[str, dict[str, Any]] = {
    "older_than": {"older_than": 10**11},
    "memory": {"memory": 2**63},
    "gpu_mem": {"gpu_mem": 2**64},
    "cpu_cores": {"cpu_cores": 2**31},
    "gpu_model": {"gpu_model": "A100\x00"},
    "gpu_archi": {"gpu_archi": "x" * 300},
    "groups": {"groups": frozenset({"lab\x00"})},
}


async def pulled_untold(store: JobStore, job_ids: list[int], told: set[int]) -> list[int]:
    """Jobs left `pulled` that no caller was given."""
    return [
        job_id
        for job_id in job_ids
        if job_id not in told and (await store.get(job_id)).status is Status.PULLED
    ]


@pytest.mark.parametrize("field", sorted(BAD_OFFERS))
async def test_one_bad_pull_among_good_ones_fails_alone(store: JobStore, field: str) -> None:
    jobs = [(await add(store)).id for _ in range(GOOD + 1)]
    bad = offer("bad", **BAD_OFFERS[field])
    calls = [claim(store, offer(f"good-{n}")) for n in range(GOOD)]
    calls.insert(GOOD // 2, claim(store, bad))
    got = await asyncio.gather(*calls, return_exceptions=True)
    failure = got.pop(GOOD // 2)
    assert isinstance(failure, InvalidInput)
    assert field in str(failure)
    assert all(isinstance(ids, list) and len(ids) == 1 for ids in got), got
    told = {job_id for ids in got if isinstance(ids, list) for job_id in ids}
    assert len(told) == GOOD
    assert await pulled_untold(store, jobs, told) == []


async def test_a_worker_name_beyond_its_column_is_refused(store: JobStore) -> None:
    await add(store)
    with pytest.raises(InvalidInput, match="worker"):
        await claim(store, offer("w" * 256))


BAD_REPORTS: dict[str, dict[str, Any]] = {
    "runtime_details NUL": {"details": "epoch 1\x00"},
    "runtime_details long": {"details": "x" * 70_000},
    "job_id": {"job_id": 2**64},
}


@pytest.mark.parametrize("kind", sorted(BAD_REPORTS))
async def test_one_bad_report_among_good_ones_fails_alone(store: JobStore, kind: str) -> None:
    held = []
    for n in range(GOOD + 1):
        job = await add(store)
        assert await claim(store, offer(f"w{n}")) == [job.id]
        held.append(job.id)
    at = T0 + timedelta(seconds=5)
    reports = [Report(job_id, f"w{n}", Status.RUNNING, at, "ok") for n, job_id in enumerate(held)]
    reports[GOOD // 2] = replace(reports[GOOD // 2], **BAD_REPORTS[kind])
    got = await asyncio.gather(*map(store.apply_report, reports), return_exceptions=True)
    failure = got.pop(GOOD // 2)
    assert isinstance(failure, InvalidInput)
    assert kind.split()[0] in str(failure)
    assert got == [True] * GOOD
    for n, job_id in enumerate(held):
        if n != GOOD // 2:
            assert (await store.get(job_id)).status is Status.RUNNING


async def test_a_job_id_beyond_63_bits_is_not_found(store: JobStore) -> None:
    for job_id in (2**63, 2**64, -1):
        with pytest.raises(JobNotFound):
            await store.get(job_id)


BAD_JOBS: dict[str, Any] = {
    "group": lambda new: replace(new, group="g" * 256),
    "priority": lambda new: replace(new, priority=2**31),
    "job.meta.job_id": lambda new: replace(new, spec=replace(new.spec, meta=Meta(2**63, "d"))),
    "job.meta.note": lambda new: replace(
        new, spec=replace(new.spec, meta=Meta(1, "d", {"note": "a\x00b"}))
    ),
    "nested": lambda new: replace(
        new, spec=replace(new.spec, meta=Meta(1, "d", {"deep": nested(100)}))
    ),
    "job.hardware.memory": lambda new: replace(
        new, spec=replace(new.spec, hardware=replace(new.spec.hardware, memory=2**63))
    ),
}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("field", sorted(BAD_JOBS))
async def test_a_job_with_a_value_beyond_its_column_is_refused(store: JobStore, field: str) -> None:
    with pytest.raises(InvalidInput, match=field.split(".")[0]):
        await store.add(BAD_JOBS[field](new_job()), T0)
    assert (await add(store)).status is Status.QUEUED  # and the store goes on


# PostgreSQL: what gets past the checks and still fails its shared statement.


@pytest.fixture
async def pg(tmp_path: Path) -> Any:
    async with store_for("postgres", tmp_path) as store:
        yield store


def raw_pass(worker: str, **hardware: Any) -> _ClaimPass:
    """A claim pass as the batch sees it, past every check of `claim`."""
    o = offer(worker, **hardware)
    return _ClaimPass(o, None, 1, T0, True, T0 - timedelta(seconds=o.older_than))


@pytest.mark.postgres
async def test_a_failing_claim_statement_is_split_until_only_its_culprit_fails(
    pg: PostgresJobStore,
) -> None:
    jobs = [(await add(pg)).id for _ in range(GOOD)]
    # Two shapes of pass (two statements), the first committing before the second runs; the
    # culprit (a name PostgreSQL refuses) shares the second's statement; a third shape fails
    # whole (a 32-bit column given 40 bits).
    calls: list[Any] = [pg._claims(raw_pass(f"a{n}")) for n in range(5)]
    calls += [pg._claims(raw_pass(f"b{n}", memory=2**62)) for n in range(5)]
    calls.insert(7, pg._claims(raw_pass("bad\x00", memory=2**62)))
    calls.append(pg._claims(raw_pass("worse", cpu_cores=2**40)))
    got = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(got.pop(), InvalidInput)
    assert isinstance(got.pop(7), InvalidInput)
    told = {row["id"] for rows, _ in got for row in rows}
    assert len(told) == 10
    assert await pulled_untold(pg, jobs, told) == []


@pytest.mark.postgres
async def test_a_failing_report_statement_is_split_until_only_its_culprit_fails(
    pg: PostgresJobStore,
) -> None:
    held = []
    for n in range(GOOD):
        job = await add(pg)
        assert await claim(pg, offer(f"w{n}")) == [job.id]
        held.append(job.id)
    at = T0 + timedelta(seconds=5)
    reports = [Report(job_id, f"w{n}", Status.RUNNING, at, "ok") for n, job_id in enumerate(held)]
    # past `apply_report`'s checks, straight into the batch: PostgreSQL refuses the NUL
    calls = [
        pg._reports(replace(r, details="a\x00b") if n == 3 else r) for n, r in enumerate(reports)
    ]
    got = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(got.pop(3), InvalidInput)
    assert got == [True] * (GOOD - 1)


@pytest.mark.postgres
async def test_a_claim_whose_caller_is_gone_goes_back_to_the_queue(pg: PostgresJobStore) -> None:
    first, second = (await add(pg)).id, (await add(pg)).id
    ahead = asyncio.ensure_future(claim(pg, offer("ahead")))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # its batch is in the database: the next claim waits for the next
    gone = asyncio.ensure_future(claim(pg, offer("gone")))
    await asyncio.sleep(0)
    gone.cancel()
    assert await ahead == [first]
    with pytest.raises(asyncio.CancelledError):
        await gone
    for _ in range(200):  # the waiting claim still runs; its jobs come back
        job = await pg.get(second)
        if job.status is Status.QUEUED and job.version == 2:
            break
        await asyncio.sleep(0.01)
    assert job.status is Status.QUEUED
    assert job.worker is None
    assert job.attempts == 0
    assert "gone" not in job.tried_by
    assert [e.to_status for e in await event_log_of(pg).events(second)] == [
        Status.PULLED,
        Status.QUEUED,
    ]
    pending = await outbox_of(pg).pending_updates(T0 + timedelta(days=1), 10)
    assert [u.job_id for u in pending] == [first]  # the user side never hears of it
    assert await claim(pg, offer("gone")) == [second]  # not counted as tried


async def test_an_offer_within_bounds_still_matches(store: JobStore) -> None:
    job = await add(store, new_job(environment=None), at=T0 - timedelta(days=3650))
    edge = WorkerOffer(
        "w1",
        Environment.LOCAL,
        cpu_cores=2**31 - 1,
        memory=2**63 - 1,
        gpu_mem=2**63 - 1,
        older_than=86400 * 365,
    )
    assert await claim(store, edge) == [job.id]
