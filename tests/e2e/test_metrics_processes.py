"""/metrics of a `serve --workers 2` in prometheus-client's multiprocess mode: any server
process's scrape counts the requests of both; and of a `jobcloud scheduler` of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.contract.sql_support import fresh_database
from tests.e2e.test_server_process import BIN, free_port, start, stop, wait_ready


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


@pytest.mark.postgres
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
    process = start([str(BIN / "jobcloud"), *command], env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        for _ in range(30):  # a new connection each: the kernel spreads them over both
            assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        counts = {health_count(httpx.get(f"{base}/metrics", timeout=10).text) for _ in range(6)}
        assert counts == {30.0}
    finally:
        stop(process)


def test_a_scheduler_of_its_own_serves_its_loops_lag(tmp_path: Path) -> None:
    """`jobcloud scheduler --metrics-port`: the loops' lag is scraped from the scheduler
    process itself, which serves no API."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "PROMETHEUS"))}
    env["JOBCLOUD_SCHEDULER_INTERVAL"] = "0.2"
    command = ["scheduler", "--metrics-port", str(port), "--data-dir", str(tmp_path)]
    process = start([str(BIN / "jobcloud"), *command], env)
    try:
        loops = _scraped_loops(f"http://127.0.0.1:{port}/metrics", process)
        assert {"leadership", "sweep"} <= loops
    finally:
        stop(process)


def _scraped_loops(url: str, process: subprocess.Popen[str]) -> set[str]:
    """The loops whose lag the scrape reports, once the sweep has run (up to 30 s)."""
    loops: set[str] = set()
    deadline = time.monotonic() + 30
    while "sweep" not in loops and time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            text = httpx.get(url, timeout=5).text
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        loops = {
            sample.labels["loop"]
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "jobcloud_scheduler_loop_lag_seconds"
        }
        time.sleep(0.2)
    return loops


def test_a_scheduler_metrics_port_in_use_stops_start_up(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(BIN / "jobcloud"), "scheduler", "--metrics-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "JOBCLOUD_DATA_DIR": str(tmp_path)},
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"jobcloud: configuration error: --metrics-port: cannot listen on 127.0.0.1:{port}:"
        " Address already in use"
    ]
