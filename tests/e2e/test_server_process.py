"""`jobcloud serve` as a real process, driven over a socket like a DECODE worker would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.jobs import submitted

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A real process, its output (stdout and stderr together) kept for a failure's message."""
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def stop(process: subprocess.Popen[str], timeout: float = 20) -> None:
    """SIGTERM (a graceful stop), then SIGKILL after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_ready(base: str, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited early:\n{process.stdout.read() if process.stdout else ''}"
            )
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "FILESYSTEM"))}
    process = subprocess.Popen(
        [
            str(BIN / "jobcloud"),
            "serve",
            "--api",
            "worker",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base, data_dir
    finally:
        stop(process, timeout=15)


def mint(data_dir: Path, username: str) -> str:
    result = subprocess.run(
        [
            str(BIN / "jobcloud"),
            "token",
            "--username",
            username,
            "--group",
            "workers",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_a_worker_runs_a_job_against_the_real_server(server: tuple[str, Path]) -> None:
    base, data_dir = server
    root = data_dir / "files"
    (root / "alice/in").mkdir(parents=True)
    (root / "alice/in/frames.tif").write_bytes(b"frames" * 10_000)
    api_key = (data_dir / "internal-api-key").read_text().strip()
    worker = {"Authorization": f"Bearer {mint(data_dir, 'gpu-box-1')}"}

    with httpx.Client(base_url=base, timeout=10) as http:
        body = submitted(files_down={"frames.tif": "alice/in/frames.tif"}, user_job_id=9)
        created = http.post("/_jobs", json=body, headers={"x-api-key": api_key})
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]

        jobs = http.get("/jobs", params={"memory": 64000}, headers=worker).json()
        assert list(jobs) == [str(job_id)]

        grant = http.get("/files/alice/in/frames.tif/url", headers=worker).json()
        assert http.request(grant["method"], grant["url"], headers=worker).content == (
            b"frames" * 10_000
        )
        for status in ("preprocessing", "running"):
            reply = http.put(f"/jobs/{job_id}/status", params={"status": status}, headers=worker)
            assert reply.status_code == 204
        grant = http.post(
            f"/jobs/{job_id}/files/url", params={"type": "output"}, headers=worker
        ).json()
        upload = http.request(
            grant["method"],
            grant["url"],
            headers=worker,
            files={"file": ("result.csv", b"x,y\n1,2\n")},
        )
        assert upload.status_code == 201, upload.text
        for status in ("postprocessing", "finished"):
            reply = http.put(f"/jobs/{job_id}/status", params={"status": status}, headers=worker)
            assert reply.status_code == 204
        assert http.get(f"/jobs/{job_id}/status", headers=worker).json() == "finished"

    assert (root / "alice/jobs/9/output/result.csv").read_bytes() == b"x,y\n1,2\n"


def test_bad_configuration_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    env = {**os.environ, "MAX_RETRIES": "lots"}
    result = subprocess.run(
        [str(BIN / "jobcloud"), "serve", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "MAX_RETRIES" in result.stderr
    assert "lots" in result.stderr
