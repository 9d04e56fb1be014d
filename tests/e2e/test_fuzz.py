"""Zero 5xx from fuzzing (issue 9, item 1): schemathesis generates requests from the whole
published OpenAPI (`/schema/openapi.json`) and sends them to the ASGI app, with a valid worker
token and the api key, on SQLite and on PostgreSQL: schemathesis's coverage phase (the
boundaries of every constraint, within and beyond them) and then random examples. Bounded so
CI stays fast: a few random examples per operation (`JOBCLOUD_FUZZ_EXAMPLES`, default 75), no
shrinking, no example database.

Checks: no server error, a status the OpenAPI documents for the operation (not yet for the
porch API, whose OpenAPI lists no error status), and a response body that matches the schema
documented for that status. The porch API (`/porch/...`) is fuzzed with an admin token of its
own (`jobcloud porch-token`).
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
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from adapters.auth.local import LocalIssuer
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.conftest import API_KEY
from tests.contract.sql_support import POSTGRES_URL, REQUIRE_POSTGRES
from tests.e2e.jobs import submitted

PORCH = "/porch/"
EXAMPLES = int(os.environ.get("JOBCLOUD_FUZZ_EXAMPLES", "75"))
CHECKS: list[Any] = [not_a_server_error, status_code_conformance, response_schema_conformance]
# The porch API's OpenAPI does not list its error statuses yet (401, 404, 422; 200 for an
# existing pipeline): status-code conformance is left out there until it does.
PORCH_CHECKS: list[Any] = [not_a_server_error, response_schema_conformance]


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
def fuzz_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, dict[str, dict[str, str]]]]:
    """The app's published schema, loaded from the app itself, bound to the app; jobs queued
    and held so that the worker operations find something to act on."""
    data = tmp_path_factory.mktemp("fuzz") / "data"
    env = {"JOBCLOUD_DATA_DIR": str(data), "INTERNAL_API_KEY_SECRET": API_KEY}
    database = f"jobcloud_fuzz_{uuid.uuid4().hex[:10]}"
    if request.param == "postgres":
        if not _database('CREATE DATABASE "{name}"', database):
            pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}")
        env["QUEUE_DB_URL"] = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{database}"
    app = create_app(load_settings(env), run_scheduler=False)
    try:
        schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
        token = LocalIssuer(data).mint("fuzz-worker", ["workers"], 3600)
        headers = {"Authorization": f"Bearer {token}", "x-api-key": API_KEY}
        _seed(schema, headers)
        yield schema, {"": headers, PORCH: {"Authorization": f"Bearer {_porch_token(env)}"}}
    finally:
        shutdown_lifespans()
        if request.param == "postgres":
            _database('DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', database)


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


def headers_for(operation: Any, headers: dict[str, dict[str, str]]) -> dict[str, str]:
    """The porch API's own token for its operations; the worker token and api key else."""
    return headers[PORCH] if operation.path.startswith(PORCH) else headers[""]


def _seed(schema: Any, headers: dict[str, str]) -> None:
    """Queue jobs through the API, and have the fuzzing worker hold some of them."""
    from schemathesis.python.asgi import get_client

    with get_client(schema.app) as client:
        for _ in range(20):
            response = client.post("/_jobs", json=submitted(), headers=headers)
            assert response.status_code == 201, response.text
        held = client.get("/jobs", params={"limit": 10, "memory": 10**6}, headers=headers)
        assert len(held.json()) == 10, held.text


def checks_for(operation: Any) -> list[Any]:
    return PORCH_CHECKS if operation.path.startswith(PORCH) else CHECKS


def cover(operation: Any, headers: dict[str, str]) -> None:
    """schemathesis's coverage phase: the boundaries of every constraint, within and beyond
    (0, the largest integer allowed and the next, the longest string and one more, ...)."""
    loaded = operation.schema
    for case in loaded.iter_coverage_cases(
        operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=loaded.config.generation_for(operation=operation),
    ):
        case.call_and_validate(headers=headers, checks=checks_for(operation))


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
        case.call_and_validate(headers=headers, checks=checks_for(operation))

    run()


def test_no_request_from_the_openapi_gets_a_5xx(
    fuzz_app: tuple[Any, dict[str, dict[str, str]]],
) -> None:
    loaded, headers = fuzz_app
    failures = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        try:
            cover(operation, headers_for(operation, headers))
            fuzz(operation, headers_for(operation, headers))
        except (Exception, BaseExceptionGroup) as exc:  # every operation, every failure
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_fuzzing_reaches_every_operation(
    fuzz_app: tuple[Any, dict[str, dict[str, str]]],
) -> None:
    """The fuzz covers the whole published API, not a part of it."""
    loaded, _ = fuzz_app
    operations = {
        f"{result.ok().method.upper()} {result.ok().path}" for result in loaded.get_all_operations()
    }
    assert {
        "GET /jobs",
        "GET /jobs/{job_id}/status",
        "PUT /jobs/{job_id}/status",
        "POST /jobs/{job_id}/files/url",
        "POST /jobs/{job_id}/files/upload",
        "GET /files/{file_path}",
        "POST /_jobs",
    } <= operations
