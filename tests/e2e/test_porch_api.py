"""The porch API through the real app where it is mounted, the user-facing one (test client):
every endpoint, every refusal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.clock import SystemClock
from adapters.sql.engine import create_engine
from adapters.sql.porch import SqlPipelineStore
from adapters.sql.url import async_url
from domain.pipelines.pipelines_uc import MintAdminToken
from entrypoints.http.app import create_app
from entrypoints.http.porch.docs import MAX_BODY_BYTES
from entrypoints.http.user.app import create_user_app
from entrypoints.http.user.settings import UserSettings
from entrypoints.settings import Settings, load_settings

Client = AsyncTestClient[Litestar]
P = "/porch"
PIPE = {"name": "align", "uri": "https://example.org/align", "version": "1.0"}


@pytest.fixture
def app(user_app: Litestar) -> Litestar:
    """The user-facing app (`client` talks to it): the porch API is mounted there."""
    return user_app


async def test_the_worker_app_does_not_serve_it(settings: Settings) -> None:
    async with AsyncTestClient(create_app(settings, run_scheduler=False)) as worker:
        assert (await worker.get(f"{P}/api/v1/openapi.json")).status_code == 404
        assert (await worker.get(f"{P}/pipelines/")).status_code == 404


async def admin_token(app: Litestar) -> str:
    mint = await app.state.dishka_container.get(MintAdminToken)
    return str(await mint("tests"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def setup(client: Client, app: Litestar) -> tuple[dict[str, str], dict[str, str]]:
    admin = bearer(await admin_token(app))
    created = await client.post(f"{P}/pipelines/", json=PIPE, headers=admin)
    assert created.status_code == 201, created.text
    minted = await client.post(f"{P}/pipelines/align/token/wrapper", headers=admin)
    assert minted.status_code == 201, minted.text
    assert minted.json()["name"] == "align"
    return admin, bearer(minted.json()["token"])


async def test_pipelines_and_tokens(client: Client, app: Litestar) -> None:
    admin, pipe = await setup(client, app)
    assert (await client.post(f"{P}/pipelines", json=PIPE, headers=admin)).status_code == 409
    assert (await client.post(f"{P}/pipelines/", json=PIPE, headers=pipe)).status_code == 403
    missing = await client.post(f"{P}/pipelines/", json={"name": "x"}, headers=admin)
    assert missing.status_code == 422
    assert "uri" in missing.text
    for path in ("pipelines", "pipelines/"):
        listed = await client.get(f"{P}/{path}", headers=pipe)
        assert listed.json() == [PIPE]
    filtered = await client.get(f"{P}/pipelines/", params={"version": "2"}, headers=pipe)
    assert filtered.json() == []
    assert (await client.get(f"{P}/pipelines/align", headers=pipe)).json() == PIPE
    assert (await client.get(f"{P}/pipelines/nope", headers=pipe)).status_code == 404
    assert (await client.get(f"{P}/pipelines/")).status_code == 401
    assert (await client.get(f"{P}/pipelines/", headers=bearer("x" * 32))).status_code == 401
    assert (await client.get(f"{P}/pipelines/", headers=bearer("0" * 32))).status_code == 401
    other = {**PIPE, "name": "call"}
    assert (await client.post(f"{P}/pipelines/", json=other, headers=admin)).status_code == 201
    # a pipeline's token mints for its own pipeline only
    assert (await client.post(f"{P}/pipelines/call/token/x", headers=pipe)).status_code == 403
    assert (await client.post(f"{P}/pipelines/align/token/y", headers=pipe)).status_code == 201
    assert (await client.post(f"{P}/pipelines/nope/token/y", headers=admin)).status_code == 404
    revoked = await client.delete(f"{P}/pipelines/align/token/wrapper", headers=admin)
    assert revoked.json()["revoked"] == 1
    assert (await client.get(f"{P}/pipelines/", headers=pipe)).status_code == 401


async def test_tasks_pagination_and_refusals(client: Client, app: Litestar) -> None:
    admin, pipe = await setup(client, app)
    for i in range(5):
        body: dict[str, Any] = {"pipeline": PIPE, "task_input": {"i": i}}
        assert (await client.post(f"{P}/tasks/", json=body, headers=pipe)).status_code == 201
    page = await client.get(
        f"{P}/tasks", params={"pipeline_name": "align", "limit": 2, "offset": 2}, headers=pipe
    )
    assert [t["task_input"]["i"] for t in page.json()] == [2, 3]
    bad = await client.get(f"{P}/tasks/", params={"status": "WAITING"}, headers=pipe)
    assert bad.status_code == 422
    assert "status" in bad.text
    await client.post(f"{P}/pipelines/", json={**PIPE, "name": "call"}, headers=admin)
    mine = await client.get(f"{P}/tasks/", params={"pipeline_name": "call"}, headers=pipe)
    assert mine.status_code == 403
    zero = await client.post(f"{P}/tasks/claim", params={"num_tasks": 0}, json=PIPE, headers=pipe)
    assert zero.status_code == 400
    assert "num_tasks" in zero.text
    unknown = {"pipeline": {**PIPE, "name": "nope"}, "task_input": {"i": 1}}
    assert (await client.post(f"{P}/tasks/", json=unknown, headers=admin)).status_code == 404
    absent = {"pipeline": PIPE, "task_input": {"i": 99}, "status": "RUNNING"}
    assert (await client.put(f"{P}/tasks/", json=absent, headers=pipe)).status_code == 404
    early = {"pipeline": PIPE, "task_input": {"i": 1}, "status": "DONE"}
    assert (await client.put(f"{P}/tasks/", json=early, headers=pipe)).status_code == 409
    no_input = await client.post(f"{P}/tasks/", json={"pipeline": PIPE}, headers=pipe)
    assert no_input.status_code == 400
    assert "task_input" in no_input.text
    huge = {"pipeline": PIPE, "task_input": {"x": "a" * MAX_BODY_BYTES}}
    assert (await client.post(f"{P}/tasks/", json=huge, headers=pipe)).status_code == 413


async def test_the_openapi_document_names_the_statuses(client: Client) -> None:
    document = (await client.get(f"{P}/api/v1/openapi.json")).json()
    assert document["components"]["schemas"]["TaskStateEnum"]["enum"] == [
        "PENDING",
        "CLAIMED",
        "RUNNING",
        "DONE",
        "FAILED",
        "CANCELLED",
    ]
    assert f"{P}/tasks/claim" in document["paths"]
    assert all(path.startswith(P + "/") for path in document["paths"])


async def test_the_user_apps_openapi_lists_every_status_with_the_error_body(
    client: Client,
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["PorchToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    paths = document["paths"]
    expected = {
        ("post", f"{P}/pipelines"): {"201", "400", "401", "403", "409", "413", "422", "503"},
        ("get", f"{P}/pipelines/{{pipeline_name}}"): {"200", "400", "401", "404", "503"},
        ("post", f"{P}/tasks"): {"200", "201", "400", "401", "403", "404", "413", "422", "503"},
        ("put", f"{P}/tasks"): {"200", "400", "401", "403", "404", "409", "413", "422", "503"},
        ("post", f"{P}/tasks/claim"): {"200", "400", "401", "403", "404", "413", "503"},
    }
    for (method, path), statuses in expected.items():
        operation = paths[path][method]
        assert operation["security"] == [{"PorchToken": []}]
        assert set(operation["responses"]) == statuses, (method, path)
        error = operation["responses"]["401"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorBody"}
    found = paths[f"{P}/tasks"]["post"]["responses"]["200"]["content"]["application/json"]
    assert found["schema"] == {"$ref": "#/components/schemas/TaskOut"}


async def test_a_tasks_history_names_every_change(client: Client, app: Litestar) -> None:
    admin, pipe = await setup(client, app)
    body: dict[str, Any] = {"pipeline": PIPE, "task_input": {"run": 1}}
    task_id = (await client.post(f"{P}/tasks/", json=body, headers=pipe)).json()["task_input_id"]
    assert len((await client.post(f"{P}/tasks/claim", json=PIPE, headers=pipe)).json()) == 1
    for status in ("RUNNING", "FAILED", "PENDING"):
        reply = await client.put(f"{P}/tasks/", json={**body, "status": status}, headers=pipe)
        assert reply.status_code == 200
    url = f"{P}/tasks/{task_id}/history"
    history = (await client.get(url, params={"pipeline_name": "align"}, headers=pipe)).json()
    assert history["task"]["status"] == "PENDING"
    moves = [(e["from_status"], e["to_status"]) for e in history["events"]]
    assert moves == [
        ("PENDING", "CLAIMED"),
        ("CLAIMED", "RUNNING"),
        ("RUNNING", "FAILED"),
        ("FAILED", "PENDING"),
    ]
    assert {e["by"] for e in history["events"]} == {"align:wrapper#2"}
    assert [(a["number"], a["status"]) for a in history["attempts"]] == [
        (1, "FAILED"),
        (2, "PENDING"),
    ]
    await client.post(f"{P}/pipelines/", json={**PIPE, "name": "call"}, headers=admin)
    other = await client.get(url, params={"pipeline_name": "call"}, headers=pipe)
    assert other.status_code == 403
    missing = await client.get(
        f"{P}/tasks/{'0' * 64}/history", params={"pipeline_name": "align"}, headers=pipe
    )
    assert missing.status_code == 404


async def test_on_a_user_database_of_its_own_the_user_app_sweeps_the_leases(
    env: dict[str, str], user_settings: UserSettings, tmp_path: Path
) -> None:
    """With DATABASE_URL the porch tasks live in the user side's database, where the worker
    side's scheduler never looks: the user app's own loop requeues a silent claim."""
    settings = load_settings({**env, "JOBCLOUD_SCHEDULER_INTERVAL": "0.1"})
    url = f"sqlite:///{tmp_path / 'u.db'}"
    app = create_user_app(settings, msgspec.structs.replace(user_settings, database_url=url))
    async with AsyncTestClient(app) as client:
        admin = bearer(await _admin_token_in(url))
        leased = {**PIPE, "lease_seconds": 1}
        assert (await client.post(f"{P}/pipelines/", json=leased, headers=admin)).status_code == 201
        task = {"pipeline": PIPE, "task_input": {"sample": 1}, "status": "PENDING"}
        assert (await client.post(f"{P}/tasks/", json=task, headers=admin)).status_code == 201
        claimed = await client.post(f"{P}/tasks/claim", json=PIPE, headers=admin)
        assert [t["status"] for t in claimed.json()] == ["CLAIMED"]
        statuses: list[str] = []
        for _ in range(50):  # the lease (1 s) and a few of the loop's rounds
            await asyncio.sleep(0.1)
            listed = await client.get(f"{P}/tasks/", headers=admin)
            statuses = [t["status"] for t in listed.json()]
            if statuses == ["PENDING"]:
                break
        assert statuses == ["PENDING"]


async def _admin_token_in(url: str) -> str:
    """An admin token minted in that database on an engine of this test's own (the app's
    runs on the test client's event loop)."""
    engine = create_engine(async_url(url), pool_size=1)
    try:
        return str(await MintAdminToken(SqlPipelineStore(engine), SystemClock())("tests"))
    finally:
        await engine.dispose()
