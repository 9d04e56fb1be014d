"""Against real `jobcloud serve` processes over sockets: a pipeline wrapper's whole day with
the requests npg_porch_cli sends to the user-facing API (`--api user`, where the porch API
lives), and 64 concurrent identical submissions through one worker API server and through
two, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from tests.contract.sql_support import POSTGRES_URL, require_postgres
from tests.e2e.jobs import submitted
from tests.e2e.porch_client import InvalidStatus, PorchCli
from tests.e2e.test_server_process import BIN, free_port, wait_ready

PIPE = {"name": "align", "uri": "https://example.org/align", "version": "1.0"}


@contextmanager
def serve(data_dir: Path, database: str | None = None, api: str = "user") -> Iterator[str]:
    """`jobcloud serve --api user` (where the porch API lives), or `--api worker`."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "FILESYSTEM"))}
    if database is not None:
        env["QUEUE_DB_URL"] = database
    port_option = "--user-port" if api == "user" else "--port"
    process = subprocess.Popen(
        [str(BIN / "jobcloud"), "serve", "--api", api, port_option, str(port), *data(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its group holds only what it started: granian's workers too
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, timeout=180)  # the test machine's 2 cores are shared
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # no worker left behind
            process.wait()


def data(folder: Path) -> list[str]:
    return ["--data-dir", str(folder)]


def porch_token(data_dir: Path, database: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    if database is not None:
        env["QUEUE_DB_URL"] = database
    result = subprocess.run(
        [str(BIN / "jobcloud"), "porch-token", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    token = result.stdout.strip()
    assert len(token) == 32
    return token


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for the servers, dropped afterwards."""
    asyncio.run(require_postgres())
    name = f"jobcloud_once_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        admin = await asyncpg.connect(POSTGRES_URL)
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_pipeline_wrappers_whole_day(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serve(data_dir) as base, httpx.Client(timeout=10) as http:
        root = f"{base}/porch/"
        admin = PorchCli(http, root, porch_token(data_dir), **_pipeline())
        assert admin.send("add_pipeline").status_code == 201
        assert admin.send("add_pipeline").status_code == 409
        minted = http.post(
            f"{root}pipelines/align/token/wrapper",
            headers={"Authorization": f"Bearer {admin.token}"},
        )
        assert minted.status_code == 201
        assert minted.json()["description"] == "wrapper"
        cli = PorchCli(http, root, minted.json()["token"], **_pipeline())
        assert cli.send("list_pipelines").json() == [PIPE]

        task_input = {"id_run": 409, "sample": "Valxxxx", "id_study": "65"}
        first = cli.send("add_task", task_input)
        assert (first.status_code, first.json()["status"]) == (201, "PENDING")
        again = cli.send("add_task", {"sample": "Valxxxx", "id_study": "65", "id_run": 409})
        assert (again.status_code, again.json()) == (200, first.json())

        # every refusal: another pipeline's token, an unknown pipeline, a bad status
        other = PorchCli(http, root, admin.token, **_pipeline("call"))
        assert other.send("add_pipeline").status_code == 201
        call_token = http.post(
            f"{root}pipelines/call/token/x", headers={"Authorization": f"Bearer {admin.token}"}
        ).json()["token"]
        intruder = PorchCli(http, root, call_token, **_pipeline())
        assert intruder.send("add_task", task_input).status_code == 403
        assert intruder.send("claim_task").status_code == 403
        lost = PorchCli(http, root, admin.token, **_pipeline("nope"))
        assert lost.send("add_task", task_input).status_code == 404
        with pytest.raises(InvalidStatus):
            cli.send("update_task", task_input, "SNOOZING")
        raw = {"pipeline": PIPE, "task_input": task_input, "status": "SNOOZING"}
        bearer = {"Authorization": f"Bearer {cli.token}"}
        assert http.put(f"{root}tasks", json=raw, headers=bearer).status_code == 422

        claimed = cli.send("claim_task")
        assert [t["status"] for t in claimed.json()] == ["CLAIMED"]
        assert claimed.json()[0]["task_input_id"] == first.json()["task_input_id"]
        assert cli.send("claim_task").json() == []
        for status in ("running", "FAILED", "PENDING"):
            reply = cli.send("update_task", task_input, status)
            assert (reply.status_code, reply.json()["status"]) == (200, status.upper())
        assert cli.send("update_task", task_input, "DONE").status_code == 409  # PENDING -> DONE
        assert [t["status"] for t in cli.send("claim_task").json()] == ["CLAIMED"]
        for status in ("RUNNING", "DONE"):
            assert cli.send("update_task", task_input, status).json()["status"] == status
        assert [(t["task_input"], t["status"]) for t in cli.send("list_tasks").json()] == [
            (task_input, "DONE")
        ]
        # run once, forever: the done task is not queued again
        assert cli.send("add_task", task_input).json()["status"] == "DONE"
        ops = http.get(f"{root}ops", headers={"Authorization": f"Bearer {admin.token}"})
        assert {"pipeline": "align", "status": "DONE", "count": 1} in ops.json()["counts"]


def _pipeline(name: str = "align") -> dict[str, str]:
    return {"name": name, "uri": PIPE["uri"], "version": PIPE["version"]}


async def _burst(bases: list[str], api_key: str, key: str, count: int = 64) -> list[Any]:
    body = {**submitted(user_job_id=5), "key": key}
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        replies = await asyncio.gather(
            *(
                http.post(
                    f"{bases[i % len(bases)]}/_jobs", json=body, headers={"x-api-key": api_key}
                )
                for i in range(count)
            )
        )
    return [(r.status_code, r.json()) for r in replies]


def _check_one_job(replies: list[Any]) -> None:
    assert sorted(code for code, _ in replies) == [200] * 63 + [201], replies
    assert len({body["id"] for _, body in replies}) == 1


def _through_one_then_two_servers(data_dir: Path, database: str | None) -> None:
    with serve(data_dir, database, api="worker") as first:
        api_key = (data_dir / "internal-api-key").read_text().strip()
        _check_one_job(asyncio.run(_burst([first], api_key, "through-one")))
        with serve(data_dir, database, api="worker") as second:
            _check_one_job(asyncio.run(_burst([first, second], api_key, "through-two")))


def test_64_concurrent_submissions_make_one_job_on_sqlite(tmp_path: Path) -> None:
    _through_one_then_two_servers(tmp_path / "data", None)


@pytest.mark.postgres
def test_64_concurrent_submissions_make_one_job_on_postgres(tmp_path: Path, database: str) -> None:
    _through_one_then_two_servers(tmp_path / "data", database)
