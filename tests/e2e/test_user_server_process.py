"""`jobcloud serve` as real processes (the worker API and, beside it, the user API), driven
over sockets: a scientist's whole session, with a worker making DECODE job fetcher requests."""

from __future__ import annotations

import io
import os
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.notify_http_servers import WebhookReceiver
from tests.contract.smtp_server import SmtpServer
from tests.e2e.test_server_process import BIN, free_port, mint, start, stop, wait_ready
from tests.e2e.user_support import job_body, notify_env, wait_for, write_catalogue

PASSWORD = "correct horse battery"


SCIENTIST = "alice@lab.example.org"  # an account named by its address is told by e-mail


@pytest.fixture
def servers(tmp_path: Path, smtp: SmtpServer) -> Iterator[tuple[str, str, Path]]:
    data_dir = tmp_path / "data"
    port, user_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "FILESYSTEM"))}
    env |= {
        "AUTH": "1",
        "APPLICATION_CONFIG_FILE": str(write_catalogue(tmp_path)),
        "JOBCLOUD_SCHEDULER_INTERVAL": "0.2",
        **notify_env(smtp),
    }
    command = [str(BIN / "jobcloud"), "serve", "--port", str(port), "--user-port", str(user_port)]
    process = start([*command, "--data-dir", str(data_dir)], env)
    worker_base, user_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{user_port}"
    try:
        wait_ready(worker_base, process)
        wait_ready(user_base, process)
        yield worker_base, user_base, data_dir
    finally:
        stop(process)
    assert process.returncode is not None


def wait_status(user: httpx.Client, job_id: int, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        job = dict(user.get(f"/jobs/{job_id}").json())
        if job["status"] == status:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {status}: {job}")


def fetch_job(worker: httpx.Client) -> tuple[int, dict[str, Any]]:
    """As DECODE's job fetcher asks: its hardware, one job at a time."""
    params = {"memory": 64000, "cpu_cores": 8, "gpu_mem": 0, "limit": 1, "older_than": 0}
    jobs = worker.get("/jobs", params=params).json()
    assert len(jobs) == 1, jobs
    ((job_id, spec),) = jobs.items()
    return int(job_id), spec


def upload_result(worker: httpx.Client, job_id: int, kind: str, name: str, data: bytes) -> None:
    grant = worker.post(f"/jobs/{job_id}/files/url", params={"type": kind}).json()
    reply = worker.request(
        grant["method"], grant["url"], data=grant["data"], files={"file": (name, data)}
    )
    assert reply.status_code == 201, reply.text


def report(worker: httpx.Client, job_id: int, status: str) -> int:
    return worker.put(f"/jobs/{job_id}/status", params={"status": status}).status_code


def test_a_scientists_whole_session(servers: tuple[str, str, Path], smtp: SmtpServer) -> None:
    worker_base, user_base, data_dir = servers
    token = mint(data_dir, "gpu-box-1")
    auth = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=user_base, timeout=10) as user,
        httpx.Client(base_url=worker_base, timeout=10, headers=auth) as worker,
    ):
        form = {"username": SCIENTIST, "password": PASSWORD}
        assert user.post("/user", data=form).status_code == 201
        assert user.post("/login", data=form).status_code == 200  # the cookie from now on

        assert (
            user.post(
                "/files/config/exp1/upload", files={"file": ("param.yaml", b"lr: 1")}
            ).status_code
            == 201
        )
        for name in ("a.tif", "b.tif"):
            reply = user.post(
                "/files/data/run1/upload", files={"file": (name, name.encode() * 1000)}
            )
            assert reply.status_code == 201
        apps = user.get("/jobs/applications").json()
        assert {"decode/v0_10_1/train", "decode/v0_10_1/fit"} == {
            f"{a['application']}/{a['version']}/{a['entrypoint']}" for a in apps
        }
        created = user.post("/jobs", json=job_body("session", data=["run1"]))
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]

        queue_id, spec = fetch_job(worker)
        assert spec["meta"]["job_id"] == job_id
        for local, file_id in spec["handler"]["files_down"].items():
            grant = worker.get(f"/files/{file_id}/url").json()
            body = worker.request(grant["method"], grant["url"]).content
            assert body == (data_dir / "files" / file_id).read_bytes(), local
        for status in ("preprocessing", "running"):
            assert report(worker, queue_id, status) == 204
        upload_result(worker, queue_id, "output", "emitters.h5", b"E" * 50_000)
        upload_result(worker, queue_id, "log", "train.log", b"epoch 1\n")
        for status in ("postprocessing", "finished"):
            assert report(worker, queue_id, status) == 204

        job = wait_status(user, job_id, "finished")
        assert job["date_started"] is not None
        assert job["date_finished"] >= job["date_started"]
        deadline = time.monotonic() + 15  # the mail, sent by the scheduler's notification loop
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.1)
        [mail] = smtp.received
        assert mail.recipients == [SCIENTIST]
        assert "session" in str(mail.message["Subject"])
        assert "finished" in mail.part("plain")
        listed = user.get("/files/output/session", params={"recursive": "true"}).json()
        assert [f["path"] for f in listed] == ["output/session/emitters.h5"]
        grant = user.get("/files/output/session/emitters.h5/url").json()
        assert user.request(grant["method"], grant["url"]).content == b"E" * 50_000
        archive = user.get("/files/output/session/download")
        assert 'filename="session.zip"' in archive.headers["content-disposition"]
        assert zipfile.ZipFile(io.BytesIO(archive.content)).read("emitters.h5") == b"E" * 50_000

        assert user.delete(f"/jobs/{job_id}").status_code == 200
        assert user.get(f"/jobs/{job_id}").status_code == 404
        assert user.get("/jobs").json() == []


def test_a_job_deleted_while_running_gets_its_worker_a_404(
    servers: tuple[str, str, Path],
) -> None:
    worker_base, user_base, data_dir = servers
    user_token = subprocess.run(
        [
            str(BIN / "jobcloud"),
            "token",
            "--username",
            "bob",
            "--group",
            "users",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    worker_auth = {"Authorization": f"Bearer {mint(data_dir, 'gpu-box-2')}"}
    with (
        httpx.Client(
            base_url=user_base, timeout=10, headers={"Authorization": f"Bearer {user_token}"}
        ) as user,
        httpx.Client(base_url=worker_base, timeout=10, headers=worker_auth) as worker,
    ):
        user.post("/files/config/exp1/upload", files={"file": ("param.yaml", b"lr: 1")})
        job_id = user.post("/jobs", json=job_body("doomed")).json()["id"]
        queue_id, _ = fetch_job(worker)
        assert report(worker, queue_id, "running") == 204
        wait_status(user, job_id, "running")
        assert user.delete(f"/jobs/{job_id}").status_code == 200
        assert report(worker, queue_id, "running") == 404
        assert worker.get(f"/jobs/{queue_id}/status").json() == "canceled"


def test_the_users_email_and_a_jobs_webhook_are_told_once(
    servers: tuple[str, str, Path], smtp: SmtpServer
) -> None:
    """On the embedded default the scheduler beside the worker API sends; the user API
    process beside it does not send too."""
    worker_base, user_base, data_dir = servers
    worker_auth = {"Authorization": f"Bearer {mint(data_dir, 'gpu-box-3')}"}
    with (
        httpx.Client(base_url=user_base, timeout=10) as user,
        httpx.Client(base_url=worker_base, timeout=10, headers=worker_auth) as worker,
    ):
        form = {"username": "carol", "password": PASSWORD, "email": "carol@lab.example.org"}
        assert user.post("/user", data=form).status_code == 201
        assert user.post("/login", data=form).status_code == 200
        secret = user.get("/user").json()["webhook_secret"]
        receiver = WebhookReceiver(secret)  # checks the signature with the user's secret
        receiver.start()
        try:
            user.post("/files/config/exp1/upload", files={"file": ("param.yaml", b"lr: 1")})
            body = {**job_body("hooked"), "notify": {"webhook_url": f"{receiver.url}/hook"}}
            created = user.post("/jobs", json=body)
            assert created.status_code == 201, created.text
            queue_id, _ = fetch_job(worker)
            for status in ("running", "finished"):
                assert report(worker, queue_id, status) == 204
            wait_for("the mail and the webhook", lambda: smtp.received and receiver.requests)
            time.sleep(1.5)  # several rounds of every notification loop: nothing more comes
            [mail] = smtp.received
            assert mail.recipients == ["carol@lab.example.org"]
            assert "hooked" in str(mail.message["Subject"])
            [hook] = receiver.requests
            assert receiver.refusals == [None]
            assert hook.path == "/hook"
            told = hook.json()
            assert (told["job_id"], told["status"]) == (created.json()["id"], "finished")
        finally:
            receiver.stop()
