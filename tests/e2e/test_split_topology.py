"""The split topology as two real processes: the user API (its own database) in front of a
worker API over HTTP. Submissions go through the user outbox with an idempotency key; status
comes back on PUT /_job_status; a deleted job's worker gets 404."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.contract.notify_http_servers import WebhookReceiver
from tests.contract.smtp_server import SmtpServer
from tests.e2e.test_server_process import BIN, free_port, mint, start, stop, wait_ready
from tests.e2e.test_user_server_process import report, upload_result, wait_status
from tests.e2e.user_support import job_body, notify_env, wait_for, write_catalogue

KEY = "split-topology-key"


@pytest.fixture
def split(tmp_path: Path, smtp: SmtpServer) -> Iterator[tuple[str, str, Path]]:
    data_dir = tmp_path / "data"
    port, user_port = free_port(), free_port()
    worker_base, user_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{user_port}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "FILESYSTEM"))}
    base_env |= {
        "INTERNAL_API_KEY_SECRET": KEY,
        "JOBCLOUD_DATA_DIR": str(data_dir),
        "JOBCLOUD_SCHEDULER_INTERVAL": "0.2",
        **notify_env(smtp),  # both could send: only the user API has anything to send
    }
    worker_env = {**base_env, "USERFACING_API_URL": user_base, "JOBCLOUD_USER_API": "0"}
    user_env = {
        **base_env,
        "WORKERFACING_API_URL": worker_base,
        "DATABASE_URL": f"sqlite:///{data_dir / 'user.db'}",
        "APPLICATION_CONFIG_FILE": str(write_catalogue(tmp_path)),
    }
    jobcloud = str(BIN / "jobcloud")
    worker = start([jobcloud, "serve", "--api", "worker", "--port", str(port)], worker_env)
    user = start([jobcloud, "serve", "--api", "user", "--user-port", str(user_port)], user_env)
    try:
        wait_ready(worker_base, worker, timeout=90)  # two start-ups on a busy machine
        wait_ready(user_base, user, timeout=90)
        yield worker_base, user_base, data_dir
    finally:
        stop(user)
        stop(worker)


def rows(database: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def pull_when_there(worker: httpx.Client) -> tuple[int, dict[str, object]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        jobs = worker.get("/jobs", params={"memory": 64000, "cpu_cores": 8, "limit": 1}).json()
        if jobs:
            ((job_id, spec),) = jobs.items()
            return int(job_id), spec
        time.sleep(0.1)
    raise AssertionError("the submission never reached the worker API")


def user_token(data_dir: Path, username: str) -> str:
    return subprocess.run(
        [str(BIN / "jobcloud"), "token", "--username", username, "--group", "users"],
        env={**os.environ, "JOBCLOUD_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_the_user_api_in_front_of_a_remote_worker_api(split: tuple[str, str, Path]) -> None:
    worker_base, user_base, data_dir = split
    worker_auth = {"Authorization": f"Bearer {mint(data_dir, 'gpu-1')}"}
    user_auth = {"Authorization": f"Bearer {user_token(data_dir, 'alice')}"}
    with (
        httpx.Client(base_url=user_base, timeout=10, headers=user_auth) as user,
        httpx.Client(base_url=worker_base, timeout=10, headers=worker_auth) as worker,
    ):
        user.post("/files/config/exp1/upload", files={"file": ("param.yaml", b"lr: 1")})
        retry = {"Idempotency-Key": "client-retry"}
        first = user.post("/jobs", json=job_body("remote"), headers=retry)
        assert first.status_code == 201, first.text
        assert user.post("/jobs", json=job_body("remote"), headers=retry).status_code == 200
        job_id = first.json()["id"]

        # the user's job lives in the user API's own database, the queue knows nothing yet
        # of users: the submission went over HTTP
        assert rows(data_dir / "user.db", "user_jobs") == 1
        assert rows(data_dir / "queue.db", "user_jobs") == 0
        queue_id, spec = pull_when_there(worker)
        assert spec["meta"]["job_id"] == job_id  # type: ignore[index]
        assert rows(data_dir / "queue.db", "jobs WHERE namespace = 'userapi'") == 1
        assert report(worker, queue_id, "running") == 204
        upload_result(worker, queue_id, "output", "result.csv", b"1,2\n")
        assert report(worker, queue_id, "finished") == 204
        job = wait_status(user, job_id, "finished")
        assert job["date_started"] is not None
        assert user.get("/files/output/remote/result.csv/download").content == b"1,2\n"
        # nothing was enqueued twice
        assert worker.get("/jobs", params={"memory": 64000, "cpu_cores": 8}).json() == {}

        second = user.post("/jobs", json=job_body("doomed")).json()["id"]
        queue_id, _ = pull_when_there(worker)
        assert report(worker, queue_id, "running") == 204
        wait_status(user, second, "running")
        assert user.delete(f"/jobs/{second}").status_code == 200
        # the next forwarded status gets 404 from the user API: the queue cancels the job
        deadline = time.monotonic() + 15
        while report(worker, queue_id, "postprocessing") != 404:
            assert time.monotonic() < deadline, "the worker was never told to stop"
            time.sleep(0.2)


def test_the_user_api_process_sends_the_mail_and_the_webhook(
    split: tuple[str, str, Path], smtp: SmtpServer
) -> None:
    """Split: the statuses arrive on PUT /_job_status, the notifications are recorded in the
    user API's own database, and its process sends them, once."""
    worker_base, user_base, data_dir = split
    user_auth = {"Authorization": f"Bearer {user_token(data_dir, 'dora')}"}
    worker_auth = {"Authorization": f"Bearer {mint(data_dir, 'gpu-2')}"}
    with (
        httpx.Client(base_url=user_base, timeout=10, headers=user_auth) as user,
        httpx.Client(base_url=worker_base, timeout=10, headers=worker_auth) as worker,
    ):
        me = user.put("/user", json={"email": "dora@lab.example.org"}).json()
        receiver = WebhookReceiver(me["webhook_secret"])
        receiver.start()
        try:
            hook = {"webhook_url": f"{receiver.url}/all-my-jobs"}
            assert user.put("/user", json=hook).json()["email"] == "dora@lab.example.org"
            user.post("/files/config/exp1/upload", files={"file": ("param.yaml", b"lr: 1")})
            job_id = user.post("/jobs", json=job_body("told")).json()["id"]
            queue_id, _ = pull_when_there(worker)
            assert report(worker, queue_id, "running") == 204
            assert report(worker, queue_id, "error") == 204
            wait_status(user, job_id, "error")
            wait_for("the mail and the webhook", lambda: smtp.received and receiver.requests)
            time.sleep(1.5)  # several rounds of every notification loop: nothing more comes
            [mail] = smtp.received
            assert mail.recipients == ["dora@lab.example.org"]
            assert "error" in mail.part("plain")
            [request] = receiver.requests
            assert receiver.refusals == [None]
            assert request.path == "/all-my-jobs"
            assert (request.json()["job_id"], request.json()["status"]) == (job_id, "error")
        finally:
            receiver.stop()
    delivered = "notifications WHERE state = 'delivered'"
    wait_for("delivered rows", lambda: rows(data_dir / "user.db", delivered) == 2)
    assert rows(data_dir / "queue.db", "notifications") == 0
