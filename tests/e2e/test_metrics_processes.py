"""/metrics of a `serve --workers 2` in prometheus-client's multiprocess mode: any server
process's scrape counts the requests of both."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.contract.sql_support import fresh_database
from tests.e2e.test_server_process import BIN, free_port, wait_ready

pytestmark = pytest.mark.postgres


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with fresh_database("jobcloud_metrics") as url:
        yield url


def health_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "jobcloud_http_request_duration_seconds_count"
                and labels.get("route") == "/health"
            ):
                return sample.value
    return 0.0


def test_every_scrape_counts_the_requests_of_every_server_process(
    database: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "PROMETHEUS"))}
    env |= {
        "QUEUE_DB_URL": database,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "JOBCLOUD_ACCESS_LOG": "0",
    }
    command = [
        "serve",
        "--api",
        "worker",
        "--port",
        str(port),
        "--workers",
        "2",
        "--data-dir",
        str(tmp_path),
    ]
    process = subprocess.Popen(
        [str(BIN / "jobcloud"), *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        for _ in range(30):  # a new connection each: the kernel spreads them over both
            assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        counts = {health_count(httpx.get(f"{base}/metrics", timeout=10).text) for _ in range(6)}
        assert counts == {30.0}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
