"""The worker-facing API through Litestar's test client, on the embedded default backends."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import TokenFactory
from tests.e2e.jobs import submitted

Client = AsyncTestClient[Litestar]


async def enqueue(client: Client, internal: dict[str, str], **kwargs: Any) -> int:
    response = await client.post("/_jobs", json=submitted(**kwargs), headers=internal)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def pull(client: Client, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/jobs", params=params, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def report(client: Client, job_id: int, status: str, headers: dict[str, str]) -> int:
    response = await client.put(
        f"/jobs/{job_id}/status", params={"status": status}, headers=headers
    )
    return response.status_code


async def test_submit_requires_the_api_key(client: Client) -> None:
    assert (await client.post("/_jobs", json=submitted())).status_code == 401
    wrong = {"x-api-key": "nope"}
    assert (await client.post("/_jobs", json=submitted(), headers=wrong)).status_code == 401


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["job"].pop("handler"), "handler"),
        (lambda d: d["job"]["meta"].pop("job_id"), "job_id"),
        (lambda d: d.update(environment="mars"), "environment"),
        (lambda d: d.update(priority="high"), "priority"),
        (lambda d: d.pop("paths_upload"), "paths_upload"),
    ],
)
async def test_bad_submissions_get_a_clear_4xx(
    client: Client, internal: dict[str, str], mutate: Any, field: str
) -> None:
    body = submitted()
    mutate(body)
    response = await client.post("/_jobs", json=body, headers=internal)
    assert response.status_code in (400, 422)
    assert field in response.text


async def test_pull_needs_a_worker_token(client: Client, auth: TokenFactory) -> None:
    assert (await client.get("/jobs")).status_code == 401
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert (await client.get("/jobs", headers=bad)).status_code == 401
    assert (await client.get("/jobs", headers=auth("bob", "users"))).status_code == 403


async def test_pull_returns_nothing_when_the_queue_is_empty(
    client: Client, auth: TokenFactory
) -> None:
    assert await pull(client, auth()) == {}


async def test_full_cycle_pull_report_finish(
    client: Client, internal: dict[str, str], auth: TokenFactory
) -> None:
    job_id = await enqueue(client, internal, user_job_id=77)
    worker = auth("gpu1")
    jobs = await pull(client, worker, memory=1000)
    assert list(jobs) == [str(job_id)]
    spec = jobs[str(job_id)]
    assert spec["meta"] == {"job_id": 77, "date_created": "2026-11-22T10:00:00", "user": "alice"}
    assert spec["app"]["cmd"] == ["decode", "fit"]
    assert spec["handler"]["files_up"] == {"output": "out", "log": "log", "artifact": "art"}

    status = await client.get(f"/jobs/{job_id}/status", headers=worker)
    assert status.json() == "pulled"
    for step in ("preprocessing", "running", "running", "postprocessing", "finished"):
        assert await report(client, job_id, step, worker) == 204
    assert (await client.get(f"/jobs/{job_id}/status", headers=worker)).json() == "finished"
    assert await pull(client, worker) == {}


async def test_illegal_and_foreign_reports(
    client: Client, internal: dict[str, str], auth: TokenFactory
) -> None:
    job_id = await enqueue(client, internal)
    worker, other = auth("gpu1"), auth("gpu10")
    await pull(client, worker)
    assert await report(client, job_id, "running", worker) == 204
    backward = await client.put(
        f"/jobs/{job_id}/status", params={"status": "pulled"}, headers=worker
    )
    assert backward.status_code == 409
    assert "running" in backward.json()["detail"]
    assert await report(client, job_id, "finished", other) == 404
    assert await report(client, 999_999, "running", worker) == 404
    bogus = await client.put(f"/jobs/{job_id}/status", params={"status": "done"}, headers=worker)
    assert bogus.status_code == 400
    assert (await client.get(f"/jobs/{job_id}/status", headers=other)).status_code == 404


async def test_matching_by_hardware_and_environment(
    client: Client, internal: dict[str, str], auth: TokenFactory
) -> None:
    gpu_job = await enqueue(client, internal, hardware={"gpu_model": "A100", "memory": 8000})
    cloud_job = await enqueue(client, internal, environment="cloud")
    local = auth("lab-box")
    assert await pull(client, local, memory=16000) == {}
    found = await pull(client, local, memory=16000, gpu_model="A100")
    assert list(found) == [str(gpu_job)]
    cloud = auth("cloud-1", "workers", "cloud")
    assert list(await pull(client, cloud)) == [str(cloud_job)]


async def test_limit_and_groups_and_priority(
    client: Client, internal: dict[str, str], auth: TokenFactory
) -> None:
    low = await enqueue(client, internal, priority=1)
    high = await enqueue(client, internal, priority=9)
    mine = await enqueue(client, internal, priority=1, group="lab-a")
    jobs = await pull(client, auth(), limit=3, groups=["lab-a"])
    assert list(jobs) == [str(mine), str(high), str(low)]
    too_many = await client.get("/jobs", params={"limit": 0}, headers=auth())
    assert too_many.status_code == 400


async def test_service_endpoints(client: Client) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).status_code == 200
    info = (await client.get("/access_info")).json()
    assert set(info["cognito"]) == {"user_pool_id", "client_id", "region"}
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert jwks["keys"]
    assert all("d" not in key for key in jwks["keys"])
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/jobs/{job_id}/status" in schema["paths"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"memory": "lots"}, "memory"), ({"cpu_cores": -1}, "cpu_cores"), ({"limit": 0}, "limit")],
)
async def test_bad_query_values_name_the_field(
    client: Client, auth: TokenFactory, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/jobs", params=params, headers=auth())
    assert response.status_code == 400
    assert field in response.text


async def test_a_limit_above_the_maximum_is_refused(client: Client, auth: TokenFactory) -> None:
    response = await client.get("/jobs", params={"limit": 101}, headers=auth())
    assert response.status_code == 422
    assert "limit" in response.json()["detail"]
