"""DECODE's job fetcher against a real `jobcloud serve`: its calls, made the way it makes them.

The fetcher (ries-lab/DECODE_Cloud_JobFetcher, `api/worker.py`) asks for a request
description and sends it exactly as given, `requests.request(**description)`, adding only the
multipart `file` of an upload; it stops a job on a 404. Here with httpx's module-level
`httpx.request` (a fresh client each time: nothing is added), against a server whose
USER_DATA_ROOT_PATH is relative (`../user_data`), with file ids as DECODE's user API writes
them (relative to the working directory), and a user API that deletes one job (404).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.contract.userapi_server import Recorded, UserApiServer
from tests.e2e.jobs import submitted
from tests.e2e.test_server_process import BIN, free_port, mint, stop, wait_ready

API_KEY = "fetcher-test-key"
DELETED_BY_THE_USER = 7303  # the user API answers 404 for this job: the user deleted it


@dataclass
class Fetcher:
    """The fetcher's API calls (`API` and `JobAPI` of its api/worker.py)."""

    base: str
    token: str

    @property
    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def fetch_jobs(self, **params: Any) -> dict[str, Any]:
        reply = httpx.get(f"{self.base}/jobs", params=params, headers=self.header)
        reply.raise_for_status()
        jobs: dict[str, Any] = reply.json()
        return jobs

    def file_description(self, file_id: str) -> httpx.Response:
        return httpx.get(f"{self.base}/files/{file_id}/url", headers=self.header)

    def get_file(self, file_id: str, path: Path) -> httpx.Response:
        described = self.file_description(file_id)
        described.raise_for_status()
        response = httpx.request(**described.json())  # may contain authorization header
        response.raise_for_status()
        path.write_bytes(response.content)
        return response

    def upload_description(self, job_id: str, path_api: str, file_type: str) -> httpx.Response:
        return httpx.post(
            f"{self.base}/jobs/{job_id}/files/url",
            params={"base_path": os.path.dirname(path_api), "type": file_type},
            headers=self.header,
        )

    def put_file(self, job_id: str, path: Path, path_api: str, file_type: str) -> httpx.Response:
        described = self.upload_description(job_id, path_api, file_type)
        described.raise_for_status()
        with path.open("rb") as handle:
            files = {"file": (os.path.split(path_api)[-1], handle)}
            return httpx.request(**described.json(), files=files)

    def ping(self, job_id: str, status: str, details: str | None = None) -> httpx.Response:
        params = {"status": status, "runtime_details": details}
        return httpx.put(
            f"{self.base}/jobs/{job_id}/status",
            params={k: v for k, v in params.items() if v is not None},  # as requests sends
            headers=self.header,
        )


@dataclass
class Deployment:
    base: str
    data_dir: Path
    user_data: Path  # the root, as the test sees it
    user_api: UserApiServer

    def submit(self, user_job_id: int, inputs: dict[str, str]) -> str:
        body = submitted(files_down=inputs, root="../user_data/u1", user_job_id=user_job_id)
        reply = httpx.post(f"{self.base}/_jobs", json=body, headers={"x-api-key": API_KEY})
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])


def _user_api_answer(request: Recorded, index: int) -> tuple[int, str]:
    return (404, "") if request.json()["job_id"] == DELETED_BY_THE_USER else (204, "")


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """`jobcloud serve` started in tmp/api with USER_DATA_ROOT_PATH=../user_data."""
    user_api = UserApiServer()
    user_api.script = _user_api_answer
    user_api.start()
    cwd, data_dir = tmp_path / "api", tmp_path / "data"
    cwd.mkdir()
    port = free_port()
    keep = ("QUEUE_", "FILESYSTEM", "USER_DATA", "USERFACING", "INTERNAL_API")
    env = {k: v for k, v in os.environ.items() if not k.startswith(keep)}
    env |= {
        "USER_DATA_ROOT_PATH": "../user_data",
        "USERFACING_API_URL": user_api.url,
        "INTERNAL_API_KEY_SECRET": API_KEY,
        "JOBCLOUD_SCHEDULER_INTERVAL": "0.2",
    }
    command = [str(BIN / "jobcloud"), "serve", "--api", "worker", "--port", str(port)]
    command += ["--data-dir", str(data_dir)]
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield Deployment(base, data_dir, tmp_path / "user_data", user_api)
    finally:
        stop(process, timeout=15)
        user_api.stop()


def put_input(deployment: Deployment, name: str, data: bytes) -> str:
    """A file where DECODE's user API puts it, and its id relative to the root."""
    (deployment.user_data / "u1/data").mkdir(parents=True, exist_ok=True)
    (deployment.user_data / f"u1/data/{name}").write_bytes(data)
    return f"u1/data/{name}"


def test_the_fetcher_runs_a_job_with_descriptions_sent_as_given(
    deployment: Deployment, tmp_path: Path
) -> None:
    frames, calib = os.urandom(50_000), b"calibration"
    file_id = put_input(deployment, "frames.tif", frames)
    # As DECODE's user API writes it (relative to the working directory); percent-encoded
    # in the URL, since every HTTP client removes a literal `/../` from a URL's path.
    calib_id = "../user_data/" + put_input(deployment, "calib.mat", calib)
    job_id = deployment.submit(7101, {"frames.tif": file_id, "calib.mat": calib_id})
    fetcher = Fetcher(deployment.base, mint(deployment.data_dir, "gpu-box-1"))
    assert list(fetcher.fetch_jobs(memory=64000)) == [job_id]

    described = fetcher.file_description(file_id)
    assert described.status_code == 200, described.text
    description = described.json()
    assert description["headers"] == {"authorization": fetcher.header["Authorization"]}
    assert description["url"] == f"{deployment.base}/files/{file_id}/download"
    got = fetcher.get_file(file_id, tmp_path / "frames.tif")
    assert got.content == frames
    assert got.headers["content-type"] == "image/tiff"
    assert fetcher.get_file(quote(calib_id, safe=""), tmp_path / "calib.mat").content == calib

    assert fetcher.ping(job_id, "running", "epoch 1").status_code == 204
    emitters = tmp_path / "emitters.h5"
    emitters.write_bytes(b"h5" * 3000)
    described = fetcher.upload_description(job_id, "fits/emitters.h5", "output").json()
    assert described["url"] == (
        f"{deployment.base}/jobs/{job_id}/files/upload?base_path=fits&type=output"
    )
    assert described["headers"] == {"authorization": fetcher.header["Authorization"]}
    assert fetcher.put_file(job_id, emitters, "fits/emitters.h5", "output").status_code == 201
    stored = deployment.user_data / "u1/alice/jobs/7101/output/fits/emitters.h5"
    assert stored.read_bytes() == b"h5" * 3000

    # The fetcher's end of a failed run: `error` with the log tail, then `postprocessing`
    # (204, nothing changes), then it uploads its logs (accepted in `error`).
    assert fetcher.ping(job_id, "error", "exit_code: 1 Traceback ...").status_code == 204
    assert fetcher.ping(job_id, "postprocessing").status_code == 204
    log = tmp_path / "run.log"
    log.write_text("Traceback ...\n")
    assert fetcher.put_file(job_id, log, "run.log", "log").status_code == 201
    assert (deployment.user_data / "u1/alice/jobs/7101/log/run.log").exists()
    status = httpx.get(f"{deployment.base}/jobs/{job_id}/status", headers=fetcher.header)
    assert status.json() == "error"


def test_a_finished_job_takes_no_upload_and_a_deleted_one_says_stop(
    deployment: Deployment, tmp_path: Path
) -> None:
    fetcher = Fetcher(deployment.base, mint(deployment.data_dir, "gpu-box-2"))
    finished = deployment.submit(7201, {})
    assert list(fetcher.fetch_jobs()) == [finished]
    for status in ("running", "finished"):
        assert fetcher.ping(finished, status).status_code == 204
    result = tmp_path / "late.csv"
    result.write_text("x\n")
    assert fetcher.upload_description(finished, "late.csv", "output").status_code == 409

    file_id = put_input(deployment, "deleted.tif", b"gone")
    deleted = deployment.submit(DELETED_BY_THE_USER, {"deleted.tif": file_id})
    assert list(fetcher.fetch_jobs()) == [deleted]
    deadline = time.monotonic() + 20  # the scheduler forwards `pulled`; the user API says 404
    status_url = f"{deployment.base}/jobs/{deleted}/status"
    while httpx.get(status_url, headers=fetcher.header).json() != "canceled":
        assert time.monotonic() < deadline, "the user's deletion did not cancel the job"
        time.sleep(0.2)
    assert fetcher.file_description(file_id).status_code == 404
    assert fetcher.upload_description(deleted, "out.csv", "output").status_code == 404
    assert fetcher.ping(deleted, "running").status_code == 404
    assert deployment.user_api.requests, "the user API was never called"
