"""The QueueClient port: in-process on the queue's database (SQLite, PostgreSQL) and over
HTTP against the worker API's POST /_jobs. Once per idempotency key, whatever the retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.userapi.queue import InProcessQueueClient
from adapters.workerapi.client import HttpQueueClient
from domain.errors import Unavailable
from domain.jobs import App, Handler, JobSpec, Meta, NewJob, Status, UploadPaths
from domain.ports import JobStore
from domain.userjobs.submission import QueueClient
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.conftest import API_KEY
from tests.contract.sql_support import store_for
from tests.fakes.clock import FakeClock

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


def new_job(user_job_id: int) -> NewJob:
    spec = JobSpec(
        App(cmd=("run",)),
        Handler(image_url="img", files_down={"data/a": "al/data/a"}),
        Meta(job_id=user_job_id, date_created=T0.isoformat()),
    )
    return NewJob(spec, UploadPaths("al/output/j", "al/log/j", "al/artifact/j"), priority=2)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "http"])
async def queue(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[QueueClient, JobStore | None]]:
    if request.param == "http":
        settings: Settings = request.getfixturevalue("settings")
        async with AsyncTestClient(create_app(settings, run_scheduler=False)) as http:
            yield HttpQueueClient(http, "http://testserver.local", API_KEY), None
        return
    async with store_for(request.param, tmp_path, outbox=False) as store:
        yield InProcessQueueClient(store, FakeClock()), store


async def test_one_job_per_key_whatever_the_retries(
    queue: tuple[QueueClient, JobStore | None],
) -> None:
    client, store = queue
    first = await client.submit(new_job(7), "api-1:user-job:7")
    assert await client.submit(new_job(7), "api-1:user-job:7") == first
    if store is not None:  # even once the job ended
        job = await store.get(first)
        job.cancel(T0, "test")
        await store.save(job, None)
        assert await client.submit(new_job(7), "api-1:user-job:7") == first
    racing = await asyncio.gather(
        *(client.submit(new_job(8), "api-1:user-job:8") for _ in range(4))
    )
    assert len(set(racing)) == 1
    assert racing[0] != first
    other = await client.submit(new_job(7), "api-2:user-job:7")
    assert other not in (first, racing[0])
    if store is not None:
        job = await store.get(racing[0])
        assert job.status is Status.QUEUED
        assert job.spec == new_job(8).spec
        assert job.priority == 2


async def test_http_failures_are_unavailable(settings: Settings) -> None:
    async with AsyncTestClient(create_app(settings, run_scheduler=False)) as http:
        wrong_key = HttpQueueClient(http, "http://testserver.local", "not-the-key")
        with pytest.raises(Unavailable):
            await wrong_key.submit(new_job(1), "k")
    async with httpx.AsyncClient() as http:
        nowhere = HttpQueueClient(http, "http://127.0.0.1:9", API_KEY, timeout=2)
        with pytest.raises(Unavailable):
            await nowhere.submit(new_job(1), "k")
