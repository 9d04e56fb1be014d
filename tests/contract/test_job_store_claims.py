"""Claims arriving together, on the in-memory reference, SQLite and PostgreSQL: each worker
gets what a claim of its own would have given it, had they been made one after the other.
(The PostgreSQL store serves such claims in one statement per offer shape, in arrival order;
the others serve them one by one, in an order of their own.)"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from domain.jobs import Environment, Hardware
from domain.matching import WorkerOffer
from domain.ports import JobStore
from tests.contract.sql_support import store_for
from tests.contract.test_job_store import T0, add, backend, claim, new_job, offer, store

__all__ = ["backend", "store"]  # the fixtures, shared with the main suite


async def claims_together(store: JobStore, *calls: tuple[WorkerOffer, int]) -> list[list[int]]:
    """Start every claim before any of them is answered, in the order given."""
    return list(await asyncio.gather(*(claim(store, o, limit) for o, limit in calls)))


async def test_each_takes_the_next_jobs_in_claim_order(store: JobStore) -> None:
    jobs = [(await add(store, new_job(priority=p))).id for p in (9, 8, 7, 6, 5, 4, 3)]
    got = await claims_together(store, (offer("w1"), 2), (offer("w2"), 1), (offer("w3"), 3))
    assert [len(ids) for ids in got] == [2, 1, 3]
    # one after the other, in some order: each a run of the claim order, the best six in all
    runs = sorted(got, key=lambda ids: jobs.index(ids[0]))
    assert [job for ids in runs for job in ids] == jobs[:6]


async def test_each_gets_only_the_jobs_it_matches(store: JobStore) -> None:
    gpu_job = await add(store, new_job(hardware=Hardware(gpu_model="A100"), priority=9))
    local_job = await add(store, new_job(environment=Environment.LOCAL))
    cloud_job = await add(store, new_job(environment=Environment.CLOUD))
    got = await claims_together(
        store,
        (offer("cpu"), 5),
        (offer("gpu", gpu_model="A100"), 1),
        (offer("cloud", environment=Environment.CLOUD), 5),
    )
    assert got == [[local_job.id], [gpu_job.id], [cloud_job.id]]


async def test_each_takes_its_groups_first(store: JobStore) -> None:
    urgent = await add(store, new_job(priority=9))
    lab_a = await add(store, new_job(priority=1, group="lab-a"))
    lab_b = await add(store, new_job(priority=1, group="lab-b"))
    got = await claims_together(
        store,
        (offer("w1", groups=frozenset({"lab-a"})), 2),
        (offer("w2", groups=frozenset({"lab-b"})), 1),
    )
    assert got == [[lab_a.id, urgent.id], [lab_b.id]]


async def test_a_job_one_of_them_tried_still_goes_to_another(store: JobStore) -> None:
    job = await add(store, new_job(environment=Environment.LOCAL))
    assert await claim(store, offer("a")) == [job.id]
    held = await store.get(job.id)
    await store.save(held, held.expire(T0 + timedelta(hours=1), max_retries=5))
    got = await claims_together(
        store,
        (offer("elsewhere", environment=Environment.CLOUD), 1),  # matches nothing
        (offer("a"), 1),  # tried it: never gets it again
        (offer("b"), 1),
    )
    assert got == [[], [], [job.id]]
    assert (await store.get(job.id)).worker == "b"


@pytest.mark.postgres
async def test_postgres_serves_them_in_arrival_order_in_one_statement(tmp_path: Path) -> None:
    async with store_for("postgres", tmp_path) as store:
        jobs = [(await add(store, new_job(priority=p))).id for p in (9, 8, 7, 6, 5, 4)]
        got = await asyncio.gather(
            claim(store, offer("w1"), 2, T0 + timedelta(seconds=1)),
            claim(store, offer("w2"), 1, T0 + timedelta(seconds=3)),
            claim(store, offer("w3"), 3, T0 + timedelta(seconds=2)),
        )
        assert got == [jobs[:2], jobs[2:3], jobs[3:]]
        # one claim for all three: made when the last of them asked
        for job_id in jobs:
            assert (await store.get(job_id)).last_seen == T0 + timedelta(seconds=3)
