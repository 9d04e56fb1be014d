"""A real `jobcloud serve` and real `jobcloud worker` processes, and a recording user API
that sees every status the server forwards (with runtime_details)."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.userapi_server import Recorded, UserApiServer
from tests.e2e.test_server_process import BIN, free_port, wait_ready

API_KEY = "agent-e2e-key"
CONTAINER_ARGS = "--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
IMAGE = "localhost/jobcloud-busybox:test"
_user_ids = itertools.count(5000)


class Deployment:
    def __init__(self, tmp: Path, user_api: UserApiServer, timeout_failure: int = 2) -> None:
        self.tmp, self.user_api = tmp, user_api
        self.data_dir = tmp / "data"
        self.files = self.data_dir / "files"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.timeout_failure = timeout_failure
        self.server: subprocess.Popen[str] | None = None
        self.workers: list[subprocess.Popen[str]] = []
        self.work_dir = tmp / "work"

    def start_server(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "FILESYSTEM"))}
        env.update(
            INTERNAL_API_KEY_SECRET=API_KEY,
            TIMEOUT_FAILURE=str(self.timeout_failure),
            JOBCLOUD_SCHEDULER_INTERVAL="0.2",
            USERFACING_API_URL=self.user_api.url,
        )
        command = [str(BIN / "jobcloud"), "serve", "--port", str(self.port)]
        self.server = subprocess.Popen(
            [*command, "--data-dir", str(self.data_dir)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own group: a crash can take all its processes
        )
        wait_ready(self.base, self.server)

    def crash_server(self) -> None:
        """SIGKILL to the server's whole process group: no goodbye."""
        if self.server is not None:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()
            self.server = None

    def stop_server(self) -> None:
        if self.server is not None:
            _stop(self.server)
            self.server = None

    def worker(
        self, *args: str, env: dict[str, str] | None = None, stderr: int = subprocess.STDOUT
    ) -> subprocess.Popen[str]:
        environment = {
            **os.environ,
            "JOBCLOUD_KEEPALIVE_INTERVAL": "0.3",
            "JOBCLOUD_POLL_INTERVAL": "0.2",
            "JOBCLOUD_KILL_GRACE": "1",
            **(env or {}),
        }
        environment.pop("JOBCLOUD_DATA_DIR", None)
        self.work_dir = self.tmp / f"work-{len(self.workers)}"
        process = subprocess.Popen(
            [
                str(BIN / "jobcloud"),
                "worker",
                "--api-url",
                self.base,
                "--data-dir",
                str(self.data_dir),
                "--username",
                f"agent-{len(self.workers)}",
                "--work-dir",
                str(self.work_dir),
                *args,
            ],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=stderr,  # a terminal's file descriptor: the rich display
            text=True,
        )
        self.workers.append(process)
        return process

    def put_input(self, key: str, data: bytes) -> str:
        path = self.files / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return key

    def submit(self, app: dict[str, Any], **handler: Any) -> tuple[int, int]:
        """(queue id, user job id) of a new job."""
        hardware = handler.pop("hardware", {})
        user_id = next(_user_ids)
        body = {
            "job": {
                "app": app,
                "handler": {"image_url": IMAGE, **handler},
                "meta": {"job_id": user_id, "date_created": "2026-11-30T10:00:00"},
                "hardware": hardware,
            },
            "paths_upload": {
                kind: f"alice/jobs/{user_id}/{kind}" for kind in ("output", "log", "artifact")
            },
        }
        reply = httpx.post(f"{self.base}/_jobs", json=body, headers={"x-api-key": API_KEY})
        assert reply.status_code == 201, reply.text
        return int(reply.json()["id"]), user_id

    def results(self, user_id: int) -> Path:
        return self.files / "alice" / "jobs" / str(user_id)

    def statuses(self, user_id: int) -> list[dict[str, Any]]:
        """What the server forwarded to the user API about this job, in order."""
        seen: list[Recorded] = list(self.user_api.requests)
        return [
            r.json() for r in seen if r.path == "/_job_status" and r.json()["job_id"] == user_id
        ]

    def wait_status(self, user_id: int, status: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for update in self.statuses(user_id):
                if update["status"] == status:
                    return update
            time.sleep(0.05)
        raise AssertionError(f"job {user_id}: no {status!r} in {self.statuses(user_id)}")

    def close(self) -> None:
        for process in self.workers:
            _stop(process)
        self.stop_server()


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def finish(process: subprocess.Popen[str], timeout: float = 30) -> str:
    """Wait for a worker to exit by itself; its output."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"worker did not exit:\n{output}") from None
    assert process.returncode == 0, output
    return output


@contextlib.contextmanager
def recording_user_api() -> Iterator[UserApiServer]:
    api = UserApiServer()
    api.start()
    try:
        yield api
    finally:
        api.stop()


@contextlib.contextmanager
def running_deployment(tmp: Path, timeout_failure: int = 2) -> Iterator[Deployment]:
    with recording_user_api() as api:
        deployment = Deployment(tmp, api, timeout_failure)
        try:
            deployment.start_server()
            yield deployment
        finally:
            deployment.close()


@pytest.fixture(scope="module")
def shared_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One server for a module's tests (starting one takes seconds on a busy machine)."""
    with running_deployment(tmp_path_factory.mktemp("agent")) as deployment:
        yield deployment


@pytest.fixture
def deployment(shared_deployment: Deployment) -> Iterator[Deployment]:
    shared_deployment.user_api.script = lambda request, index: (204, "")
    yield shared_deployment
    for process in shared_deployment.workers:
        _stop(process)


def podman_or_skip() -> str:
    """podman's path; the test fails when JOBCLOUD_REQUIRE_PODMAN=1 and it is missing."""
    binary = shutil.which("podman")
    if binary is None:
        if os.environ.get("JOBCLOUD_REQUIRE_PODMAN") == "1":
            pytest.fail("podman is required (JOBCLOUD_REQUIRE_PODMAN=1) but not installed")
        pytest.skip("podman is not installed")
    return binary


def busybox_image(tmp: Path) -> str:
    """A tiny image made here: busybox and a few links, imported with podman."""
    binary = podman_or_skip()
    rootfs = tmp / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(shutil.which("busybox") or "/bin/busybox", rootfs / "bin" / "busybox")
    for name in ("sh", "cat", "echo", "sleep", "ls", "cp", "wc", "tr"):
        (rootfs / "bin" / name).symlink_to("busybox")
    archive = tmp / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
    subprocess.run([binary, "import", str(archive), IMAGE], check=True, capture_output=True)
    return IMAGE


Waiter = Callable[[], bool]


def eventually(check: Waiter, timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
