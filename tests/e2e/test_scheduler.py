"""The scheduler inside the real app: lease expiry, and status forwarding to a user API that
answers over real HTTP (including the 404 that cancels a job)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.auth.local import LocalIssuer
from entrypoints.http.app import create_app
from entrypoints.scheduler import Scheduler
from entrypoints.settings import load_settings
from tests.conftest import API_KEY
from tests.contract.userapi_server import Recorded, UserApiServer
from tests.e2e.jobs import submitted

Client = AsyncTestClient[Litestar]


@pytest.fixture
def user_api() -> Iterator[UserApiServer]:
    api = UserApiServer()
    api.start()
    yield api
    api.stop()


@pytest.fixture
async def deployment(
    tmp_path: Path, user_api: UserApiServer
) -> AsyncIterator[tuple[Client, Scheduler, LocalIssuer]]:
    settings = load_settings(
        {
            "JOBCLOUD_DATA_DIR": str(tmp_path / "data"),
            "INTERNAL_API_KEY_SECRET": API_KEY,
            "USERFACING_API_URL": user_api.url,
            "TIMEOUT_FAILURE": "1",
            "MAX_RETRIES": "1",
        }
    )
    app = create_app(settings, run_scheduler=False)
    async with AsyncTestClient(app) as client:
        yield (
            client,
            Scheduler(app.state.dishka_container, settings),
            LocalIssuer(settings.data_dir),
        )


def bearer(issuer: LocalIssuer, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint(name, ['workers'], 600)}"}


async def enqueue(client: Client, user_job_id: int) -> int:
    reply = await client.post(
        "/_jobs", json=submitted(user_job_id=user_job_id), headers={"x-api-key": API_KEY}
    )
    return int(reply.json()["id"])


def statuses(api: UserApiServer, user_job_id: int) -> list[str]:
    return [r.json()["status"] for r in api.requests if r.json()["job_id"] == user_job_id]


async def test_silent_workers_lose_their_job_until_it_fails(
    deployment: tuple[Client, Scheduler, LocalIssuer], user_api: UserApiServer
) -> None:
    client, scheduler, issuer = deployment
    job_id = await enqueue(client, 501)
    first, second = bearer(issuer, "gpu1"), bearer(issuer, "gpu2")
    assert list((await client.get("/jobs", headers=first)).json()) == [str(job_id)]
    await asyncio.sleep(1.2)
    await scheduler.tick()
    gone = await client.put(f"/jobs/{job_id}/status", params={"status": "running"}, headers=first)
    assert gone.status_code == 404
    assert list((await client.get("/jobs", headers=second)).json()) == [str(job_id)]
    await asyncio.sleep(1.2)
    await scheduler.tick()
    assert (await client.get("/jobs", headers=bearer(issuer, "gpu3"))).json() == {}
    assert statuses(user_api, 501) == ["pulled", "queued", "pulled", "error"]
    [failed] = [r for r in user_api.requests if r.json()["status"] == "error"]
    assert failed.json()["runtime_details"] == "max retries reached"
    assert failed.headers["x-api-key"] == API_KEY


async def test_status_changes_reach_the_user_api_in_order(
    deployment: tuple[Client, Scheduler, LocalIssuer], user_api: UserApiServer
) -> None:
    client, scheduler, issuer = deployment
    down = {"calls": 0}

    def flaky(request: Recorded, index: int) -> tuple[int, str]:
        down["calls"] += 1
        return (503, "") if down["calls"] <= 2 else (200, "{}")

    user_api.script = flaky
    job_id = await enqueue(client, 502)
    worker = bearer(issuer, "gpu1")
    await client.get("/jobs", headers=worker)
    for status in ("running", "finished"):
        reply = await client.put(
            f"/jobs/{job_id}/status", params={"status": status}, headers=worker
        )
        assert reply.status_code == 204  # never waits for the user API
    await scheduler.tick()  # the user API is down: retried later, with backoff
    assert statuses(user_api, 502) == ["pulled"]
    for _ in range(40):
        await asyncio.sleep(0.25)
        await scheduler.tick()
        if len(user_api.answers) >= 5:
            break
    delivered = [
        r.json()["status"]
        for r, code in zip(user_api.requests, user_api.answers, strict=True)
        if code == 200
    ]
    assert delivered == ["pulled", "running", "finished"]


async def test_a_job_deleted_by_the_user_is_canceled(
    deployment: tuple[Client, Scheduler, LocalIssuer], user_api: UserApiServer
) -> None:
    client, scheduler, issuer = deployment
    user_api.script = lambda request, index: (404, '{"detail": "Job not found"}')
    job_id = await enqueue(client, 503)
    worker = bearer(issuer, "gpu1")
    await client.get("/jobs", headers=worker)
    await scheduler.tick()
    reply = await client.put(f"/jobs/{job_id}/status", params={"status": "running"}, headers=worker)
    assert reply.status_code == 404
    assert "canceled" in reply.json()["detail"]
    assert (await client.get(f"/jobs/{job_id}/status", headers=worker)).json() == "canceled"
    await scheduler.tick()
    assert len(user_api.requests) == 1  # the cancel itself is not forwarded
