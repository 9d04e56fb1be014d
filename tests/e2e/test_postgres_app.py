"""The app on PostgreSQL, as `QUEUE_DB_URL` configures it: the asyncpg hot path end to end,
and a database that drops the server's connections costs a 503 at most, never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.conftest import TokenFactory
from tests.contract.sql_support import POSTGRES_URL, fresh_database
from tests.e2e.jobs import submitted

pytestmark = pytest.mark.postgres

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A fresh database, dropped afterwards: the URL the server gets."""
    async with fresh_database() as url:
        yield url


@pytest.fixture
async def pg_client(env: dict[str, str], database: str) -> AsyncIterator[Client]:
    settings = load_settings({**env, "QUEUE_DB_URL": database})
    async with AsyncTestClient(create_app(settings, run_scheduler=False)) as client:
        yield client


async def test_the_worker_cycle_on_postgres(
    pg_client: Client, auth: TokenFactory, internal: dict[str, str]
) -> None:
    worker, other = auth("gpu-1"), auth("gpu-2")
    job_id = (await pg_client.post("/_jobs", json=submitted(), headers=internal)).json()["id"]
    pulled = (await pg_client.get("/jobs", params={"memory": 8000}, headers=worker)).json()
    assert list(pulled) == [str(job_id)]
    assert pulled[str(job_id)]["app"]["cmd"] == ["decode", "fit"]

    async def put(status: str, headers: dict[str, str], **extra: str) -> int:
        params = {"status": status, **extra}
        response = await pg_client.put(f"/jobs/{job_id}/status", params=params, headers=headers)
        return response.status_code

    assert await put("running", worker, runtime_details="epoch 1") == 204
    assert await put("running", worker) == 204  # a keep-alive
    assert await put("finished", other) == 404  # not the holder
    assert await put("pulled", worker) == 409  # backwards
    assert await put("finished", worker) == 204
    assert await put("running", worker) == 409  # out of a terminal status
    status = await pg_client.get(f"/jobs/{job_id}/status", headers=worker)
    assert status.json() == "finished"


async def test_dropped_connections_cost_a_503_then_recover(
    pg_client: Client, database: str, auth: TokenFactory, internal: dict[str, str]
) -> None:
    worker = auth("gpu-1")
    assert (await pg_client.post("/_jobs", json=submitted(), headers=internal)).status_code == 201
    await _drop_connections(database.rsplit("/", 1)[1])
    statuses: list[int] = []
    while len(statuses) < 40 and statuses[-1:] != [200]:  # each dead connection is replaced
        response = await pg_client.get("/jobs", params={"memory": 8000}, headers=worker)
        statuses.append(response.status_code)
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[-1] == 200, statuses
    assert (await pg_client.get("/ready")).status_code == 200


async def _drop_connections(name: str) -> None:
    """Terminate every connection to the database `name`, and wait until they are gone
    (pg_terminate_backend only signals them)."""
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        pids = await admin.fetch(
            "SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity WHERE datname = $1",
            name,
        )
        for _ in range(100):
            alive = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                [row["pid"] for row in pids],
            )
            if not alive:
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def test_decode_s_fetcher_ending_after_error_on_postgres(
    pg_client: Client, auth: TokenFactory, internal: dict[str, str]
) -> None:
    """`error`, then `postprocessing` (204, nothing changes), then the log upload (201); a
    finished job takes no upload (409). Through the asyncpg hot path."""
    worker = auth("gpu-1")
    failed = (await pg_client.post("/_jobs", json=submitted(), headers=internal)).json()["id"]
    done = (await pg_client.post("/_jobs", json=submitted(), headers=internal)).json()["id"]
    pulled = await pg_client.get("/jobs", params={"limit": 2}, headers=worker)
    assert sorted(pulled.json()) == sorted([str(failed), str(done)])

    async def put(job_id: int, status: str) -> int:
        reply = await pg_client.put(
            f"/jobs/{job_id}/status", params={"status": status}, headers=worker
        )
        return reply.status_code

    async def upload(job_id: int) -> int:
        reply = await pg_client.post(
            f"/jobs/{job_id}/files/upload",
            params={"type": "log"},
            files={"file": ("run.log", b"Traceback ...")},
            headers=worker,
        )
        return reply.status_code

    assert await put(failed, "error") == 204
    assert await put(failed, "postprocessing") == 204
    assert await put(failed, "finished") == 204
    assert await upload(failed) == 201
    status = await pg_client.get(f"/jobs/{failed}/status", headers=worker)
    assert status.json() == "error"
    assert await put(done, "finished") == 204
    assert await upload(done) == 409
