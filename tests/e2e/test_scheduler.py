"""The scheduler inside the real app: lease expiry, and status forwarding to a user API that
answers over real HTTP (including the 404 that cancels a job)."""

from __future__ import annotations

import asyncio
import time
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
        if len(user_api.answers) >= 4:
            break
    delivered = [
        r.json()["status"]
        for r, code in zip(user_api.requests, user_api.answers, strict=True)
        if code == 200
    ]
    # `running` (no details) is left out: `finished` follows, and the user side applies the
    # latest status it gets (see `domain.use_cases.forwarding.skippable`).
    assert delivered == ["pulled", "finished"]


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


@pytest.fixture
async def running_deployment(
    tmp_path: Path, user_api: UserApiServer
) -> AsyncIterator[tuple[Client, Scheduler, LocalIssuer]]:
    """The app with its scheduler running its loops: 3 s leases, probes every second."""
    settings = load_settings(
        {
            "JOBCLOUD_DATA_DIR": str(tmp_path / "data"),
            "INTERNAL_API_KEY_SECRET": API_KEY,
            "USERFACING_API_URL": user_api.url,
            "TIMEOUT_FAILURE": "3",
            "JOBCLOUD_SCHEDULER_INTERVAL": "0.5",
            "KEEPALIVE_FORWARD_INTERVAL": "1",
            "JOBCLOUD_FORWARD_TIMEOUT": "30",
        }
    )
    app = create_app(settings, run_scheduler=True)
    try:
        async with AsyncTestClient(app) as client:
            yield client, app.state.scheduler, LocalIssuer(settings.data_dir)
            user_api.release.set()  # let hanging answers go, so the scheduler can stop
    finally:
        user_api.release.set()


async def test_a_hanging_user_api_does_not_delay_lease_expiry(
    running_deployment: tuple[Client, Scheduler, LocalIssuer], user_api: UserApiServer
) -> None:
    client, scheduler, issuer = running_deployment
    user_api.delay_for = lambda index: 60.0  # every answer hangs
    job_id = await enqueue(client, 601)
    worker = bearer(issuer, "gpu1")
    pulled_at = time.monotonic()
    assert list((await client.get("/jobs", headers=worker)).json()) == [str(job_id)]
    # Held: 200; once the lease expired and the job is queued again: 404 (not yours).
    while (await client.get(f"/jobs/{job_id}/status", headers=worker)).status_code == 200:
        assert time.monotonic() - pulled_at < 3 + 0.5 + 2.0, "the lease expired late"
        await asyncio.sleep(0.05)
    assert time.monotonic() - pulled_at >= 3
    assert user_api.requests  # delivery was trying meanwhile, and hanging
    assert scheduler.loops["sweep"].lag < 1.0
    assert list((await client.get("/jobs", headers=bearer(issuer, "gpu2"))).json()) == [str(job_id)]


async def test_a_user_deleting_a_running_job_stops_its_worker(
    running_deployment: tuple[Client, Scheduler, LocalIssuer], user_api: UserApiServer
) -> None:
    client, _, issuer = running_deployment
    job_id = await enqueue(client, 602)
    worker = bearer(issuer, "gpu1")
    await client.get("/jobs", headers=worker)

    async def report(status: str, **extra: str) -> int:
        params = {"status": status, **extra}
        reply = await client.put(f"/jobs/{job_id}/status", params=params, headers=worker)
        return reply.status_code

    assert await report("running") == 204
    assert await report("running", runtime_details="epoch 1 done") == 204  # new details
    for _ in range(100):
        if ("running", "epoch 1 done") in details(user_api, 602):
            break
        await asyncio.sleep(0.05)
    assert ("running", "epoch 1 done") in details(user_api, 602)  # the keep-alive's news
    user_api.script = lambda request, index: (
        (404, '{"detail": "not found"}') if request.json()["job_id"] == 602 else (204, "")
    )  # the user deletes the job: only a re-forwarded status can tell
    for _ in range(100):
        if await report("running") == 404:  # keep-alives until the worker is told to stop
            break
        await asyncio.sleep(0.1)
    reply = await client.put(f"/jobs/{job_id}/status", params={"status": "running"}, headers=worker)
    assert reply.status_code == 404
    assert "canceled" in reply.json()["detail"]


def details(api: UserApiServer, user_job_id: int) -> list[tuple[str, str]]:
    return [
        (r.json()["status"], r.json()["runtime_details"])
        for r in api.requests
        if r.json()["job_id"] == user_job_id
    ]
