"""Start-up refusals as an operator sees them: real `jobcloud` processes, one line on
stderr naming what to fix, exit 2, no traceback, no password."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.contract.sql_support import require_postgres
from tests.e2e.test_server_process import BIN, free_port

PASSWORD = "s3cret-Pa55"
COMMANDS = [["serve"], ["scheduler"], ["db", "upgrade"]]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    if args[0] == "serve" and "--port" not in args:
        args = [*args, "--port", str(free_port())]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "JOBCLOUD_"))}
    return subprocess.run(
        [str(BIN / "jobcloud"), *args, "--data-dir", str(tmp_path / "data")],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_unreachable_database_stops_start_up_naming_queue_db_url(
    command: list[str], tmp_path: Path
) -> None:
    url = f"postgresql://queue:{PASSWORD}@127.0.0.1:{free_port()}/queue"
    result = run(command, tmp_path, QUEUE_DB_URL=url)
    assert_one_line_refusal(result, "QUEUE_DB_URL", "ConnectionRefused", "queue:***@127.0.0.1")


@pytest.mark.parametrize(
    "command", [["serve", "--api", "user"], ["porch-token"]], ids=["serve-user", "porch-token"]
)
def test_the_user_sides_own_unreachable_database_stops_start_up_naming_database_url(
    command: list[str], tmp_path: Path
) -> None:
    url = f"postgresql://users:{PASSWORD}@127.0.0.1:{free_port()}/users"
    if command[0] == "serve":
        command = [*command, "--user-port", str(free_port())]
    result = run(command, tmp_path, DATABASE_URL=url)
    assert_one_line_refusal(result, "DATABASE_URL", "ConnectionRefused", "users:***@127.0.0.1")
    assert "QUEUE_DB_URL" not in result.stderr


def test_an_unopenable_sqlite_file_stops_start_up(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], tmp_path, QUEUE_DB_URL="sqlite:////no/such/folder/q.db")
    assert_one_line_refusal(result, "QUEUE_DB_URL", "unable to open database file")


@pytest.mark.postgres
async def test_a_misnamed_database_stops_start_up(tmp_path: Path) -> None:
    await require_postgres()
    name = f"no_such_db_{uuid.uuid4().hex[:8]}"
    result = run(
        ["db", "upgrade"], tmp_path, QUEUE_DB_URL=f"postgresql://postgres@127.0.0.1:5432/{name}"
    )
    assert_one_line_refusal(result, "QUEUE_DB_URL", f'database "{name}" does not exist')


@pytest.mark.postgres
async def test_a_role_the_database_refuses_stops_start_up(tmp_path: Path) -> None:
    await require_postgres()
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    url = f"postgresql://{role}:{PASSWORD}@127.0.0.1:5432/test"
    result = run(["serve"], tmp_path, QUEUE_DB_URL=url)
    assert_one_line_refusal(result, "QUEUE_DB_URL", f'role "{role}" does not exist')


def test_a_port_held_by_another_program_is_refused(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run(["serve", "--port", str(port)], tmp_path)
    assert_one_line_refusal(result, f"--port {port}", "Address already in use")


def test_version_comes_from_the_package(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "jobcloud"), "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().startswith("jobcloud ")
    version = result.stdout.split()[1]
    assert version[0].isdigit()
    assert "." in version
