"""Zero 5xx from fuzzing (issue 9, item 1): schemathesis generates requests from the published
OpenAPI and sends them to the ASGI app, on SQLite and on PostgreSQL: schemathesis's coverage
phase (the boundaries of every constraint, within and beyond them) and then random examples.
Bounded so CI stays fast: a few random examples per operation (`JOBCLOUD_FUZZ_EXAMPLES`,
default 75), no shrinking, no example database.

Two documents: the worker app's whole OpenAPI (`/schema/openapi.json`), with a valid worker
token and the api key; and the porch API's operations (`/porch/...`) of the user-facing app's
OpenAPI, where that API is mounted, with an admin token of its own (`jobcloud porch-token`).
Checks, on both: no server error, a status the OpenAPI documents for the operation, and a
response body that matches the schema documented for that status.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.python.asgi import get_client, shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from adapters.auth.local import LocalIssuer
from entrypoints.http.app import create_app
from entrypoints.http.user.app import create_user_app
from entrypoints.http.user.settings import UserSettings
from entrypoints.settings import load_settings
from tests.conftest import API_KEY
from tests.contract.sql_support import POSTGRES_URL, REQUIRE_POSTGRES
from tests.e2e.jobs import submitted

PORCH = "/porch/"
EXAMPLES = int(os.environ.get("JOBCLOUD_FUZZ_EXAMPLES", "75"))
CHECKS: list[Any] = [not_a_server_error, status_code_conformance, response_schema_conformance]
PIPE = {"name": "align", "uri": "https://example.org/align", "version": "1.0"}

Fuzzed = tuple[Any, dict[str, str]]  # the loaded schema, bound to its app; the headers


def _database(action: str, name: str) -> bool:
    async def run() -> None:
        admin = await asyncpg.connect(POSTGRES_URL)
        try:
            await admin.execute(action.format(name=name))
        finally:
            await admin.close()

    try:
        asyncio.run(run())
        return True
    except (OSError, asyncpg.PostgresError):
        if action.startswith("CREATE") and not REQUIRE_POSTGRES:
            return False
        raise


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The environment of one deployment (a fresh database); its apps stopped at the end."""
    data = tmp_path_factory.mktemp("fuzz") / "data"
    env = {"JOBCLOUD_DATA_DIR": str(data), "INTERNAL_API_KEY_SECRET": API_KEY}
    database = f"jobcloud_fuzz_{uuid.uuid4().hex[:10]}"
    if request.param == "postgres":
        if not _database('CREATE DATABASE "{name}"', database):
            pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}")
        env["QUEUE_DB_URL"] = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{database}"
    try:
        yield env
    finally:
        shutdown_lifespans()
        if request.param == "postgres":
            _database('DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', database)


@pytest.fixture(scope="module")
def worker_api(deployment: dict[str, str]) -> Fuzzed:
    """The worker app's published schema, loaded from the app itself, bound to the app; jobs
    queued and held so that the worker operations find something to act on."""
    app = create_app(load_settings(deployment), run_scheduler=False)
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    token = LocalIssuer(Path(deployment["JOBCLOUD_DATA_DIR"])).mint(
        "fuzz-worker", ["workers"], 3600
    )
    headers = {"Authorization": f"Bearer {token}", "x-api-key": API_KEY}
    _seed_jobs(schema, headers)
    return schema, headers


@pytest.fixture(scope="module")
def porch_api(deployment: dict[str, str]) -> Fuzzed:
    """The porch operations of the user app's published schema, bound to the user app; a
    pipeline with tasks in every state the seed reaches."""
    app = create_user_app(load_settings(deployment), UserSettings())
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app).include(
        path_regex=f"^{PORCH}"
    )
    headers = {"Authorization": f"Bearer {_porch_token(deployment)}"}
    _seed_tasks(schema, headers)
    return schema, headers


def _porch_token(env: dict[str, str]) -> str:
    """An admin token of the porch API, as `jobcloud porch-token` mints it."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("jobcloud")), "porch-token"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _seed_jobs(schema: Any, headers: dict[str, str]) -> None:
    """Queue jobs through the API, and have the fuzzing worker hold some of them."""
    with get_client(schema.app) as client:
        for _ in range(20):
            response = client.post("/_jobs", json=submitted(), headers=headers)
            assert response.status_code == 201, response.text
        held = client.get("/jobs", params={"limit": 10, "memory": 10**6}, headers=headers)
        assert len(held.json()) == 10, held.text


def _seed_tasks(schema: Any, headers: dict[str, str]) -> None:
    """A pipeline and its tasks: pending, claimed, running, failed."""
    with get_client(schema.app) as client:
        assert client.post("/porch/pipelines/", json=PIPE, headers=headers).status_code == 201
        for i in range(6):
            task = {"pipeline": PIPE, "task_input": {"sample": i}}
            assert client.post("/porch/tasks/", json=task, headers=headers).status_code == 201
        claim = client.post("/porch/tasks/claim?num_tasks=3", json=PIPE, headers=headers)
        assert len(claim.json()) == 3, claim.text
        for i, status in ((0, "RUNNING"), (1, "RUNNING"), (1, "FAILED")):
            task = {"pipeline": PIPE, "task_input": {"sample": i}, "status": status}
            assert client.put("/porch/tasks/", json=task, headers=headers).status_code == 200


def cover(operation: Any, headers: dict[str, str]) -> None:
    """schemathesis's coverage phase: the boundaries of every constraint, within and beyond
    (0, the largest integer allowed and the next, the longest string and one more, ...)."""
    loaded = operation.schema
    for case in loaded.iter_coverage_cases(
        operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=loaded.config.generation_for(operation=operation),
    ):
        case.call_and_validate(headers=headers, checks=CHECKS)


def fuzz(operation: Any, headers: dict[str, str]) -> None:
    """Send `EXAMPLES` generated requests of one operation; raise on the first failed check."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def fuzz_every_operation(loaded: Any, headers: dict[str, str]) -> list[str]:
    """Cover and fuzz every operation of `loaded`: the failures, one line per operation."""
    failures = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        try:
            cover(operation, headers)
            fuzz(operation, headers)
        except (Exception, BaseExceptionGroup) as exc:  # every operation, every failure
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    return failures


def operations(loaded: Any) -> set[str]:
    return {f"{r.ok().method.upper()} {r.ok().path}" for r in loaded.get_all_operations()}


def test_no_request_from_the_worker_openapi_gets_a_5xx(worker_api: Fuzzed) -> None:
    failures = fuzz_every_operation(*worker_api)
    assert not failures, "\n\n".join(failures)


def test_no_request_to_the_porch_api_gets_a_5xx(porch_api: Fuzzed) -> None:
    failures = fuzz_every_operation(*porch_api)
    assert not failures, "\n\n".join(failures)


def test_the_fuzzing_reaches_every_operation(worker_api: Fuzzed, porch_api: Fuzzed) -> None:
    """The fuzz covers the whole published worker API and the whole porch API."""
    assert {
        "GET /jobs",
        "GET /jobs/{job_id}/status",
        "PUT /jobs/{job_id}/status",
        "POST /jobs/{job_id}/files/url",
        "POST /jobs/{job_id}/files/upload",
        "GET /files/{file_path}",
        "POST /_jobs",
    } <= operations(worker_api[0])
    assert not any(path.split()[1].startswith(PORCH) for path in operations(worker_api[0]))
    assert operations(porch_api[0]) == {
        "GET /porch/pipelines",
        "POST /porch/pipelines",
        "GET /porch/pipelines/{pipeline_name}",
        "POST /porch/pipelines/{pipeline_name}/token/{token_desc}",
        "DELETE /porch/pipelines/{pipeline_name}/token/{token_desc}",
        "GET /porch/tasks",
        "POST /porch/tasks",
        "PUT /porch/tasks",
        "POST /porch/tasks/claim",
        "GET /porch/tasks/{task_input_id}/history",
        "GET /porch/ops",
        "GET /porch/ops/page",
    }
