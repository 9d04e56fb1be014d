"""What an operator sees: one access-log line per request (no secrets), and /metrics with
the queue's state read at scrape time, counters and latency per route template."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from entrypoints import metrics
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.conftest import TokenFactory
from tests.e2e.test_worker_api import enqueue, pull, report

Client = AsyncTestClient[Litestar]


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_lines() -> Iterator[Lines]:
    lines = Lines()
    logger = logging.getLogger("jobcloud.access")
    logger.addHandler(lines)
    yield lines
    logger.removeHandler(lines)


@pytest.fixture
async def forwarding_client(env: dict[str, str]) -> AsyncIterator[Client]:
    """With a user API configured (never called: no scheduler), so the outbox fills."""
    settings = load_settings({**env, "USERFACING_API_URL": "http://127.0.0.1:9"})
    async with AsyncTestClient(create_app(settings, run_scheduler=False)) as client:
        yield client


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_metrics_show_the_queue_counters_and_latency(
    forwarding_client: Client, auth: TokenFactory, internal: dict[str, str]
) -> None:
    client = forwarding_client
    before = await scrape(client)
    worker = auth("gpu-1")
    first = await enqueue(client, internal)
    await enqueue(client, internal)
    await enqueue(client, internal)
    assert list(await pull(client, worker, limit=2)) == [str(first), str(first + 1)]
    assert await report(client, first, "running", worker) == 204
    assert await report(client, first, "running", worker) == 204  # a keep-alive

    after = await scrape(client)
    assert after[("jobcloud_jobs", (("status", "queued"),))] == 1
    assert after[("jobcloud_jobs", (("status", "pulled"),))] == 1
    assert after[("jobcloud_jobs", (("status", "running"),))] == 1
    assert after[("jobcloud_jobs", (("status", "finished"),))] == 0
    assert after[("jobcloud_oldest_queued_job_age_seconds", ())] >= 0
    assert after[("jobcloud_outbox_backlog", ())] == 3  # pulled, pulled, running
    assert after[("jobcloud_oldest_undelivered_update_age_seconds", ())] >= 0

    def grew(name: str, labels: tuple[tuple[str, str], ...] = ()) -> float:
        return after[(name, labels)] - before.get((name, labels), 0)

    assert grew("jobcloud_jobs_claimed_total") == 2
    assert grew("jobcloud_reports_total", (("status", "running"),)) == 2
    route = (("code", "204"), ("method", "PUT"), ("route", "/jobs/{job_id}/status"))
    assert grew("jobcloud_http_request_duration_seconds_count", route) == 2
    assert not any("/jobs/1" in dict(labels).get("route", "x") for _, labels in after)


async def test_an_empty_queue_has_no_ages(client: Client) -> None:
    metrics = await scrape(client)
    assert metrics[("jobcloud_oldest_queued_job_age_seconds", ())] == 0
    assert metrics[("jobcloud_outbox_backlog", ())] == 0


async def test_one_access_line_per_request_naming_the_worker_and_no_secret(
    client: Client, auth: TokenFactory, internal: dict[str, str], access_lines: Lines
) -> None:
    worker = auth("gpu-7")
    job = await enqueue(client, internal)
    await pull(client, worker)
    reply = await client.put(
        f"/jobs/{job}/status",
        params={"status": "running", "runtime_details": "secret-ish detail"},
        headers=worker,
    )
    assert reply.status_code == 204
    assert (await client.get("/no/such/path")).status_code == 404
    assert (await client.get("/jobs", headers={"Authorization": "Bearer bad"})).status_code == 401

    lines = access_lines.lines
    assert len(lines) == 5, lines
    assert lines[0].startswith("POST /_jobs 201 ")
    assert lines[1].startswith("GET /jobs 200 ")
    assert lines[1].endswith(" worker=gpu-7")
    assert lines[2].startswith(f"PUT /jobs/{job}/status 204 ")
    assert lines[3].startswith("GET /no/such/path 404 ")
    assert lines[4].startswith("GET /jobs 401 ")
    assert "worker=" not in lines[4]
    for line in lines:
        assert " ms" in line
        assert "secret" not in line
        assert "runtime_details" not in line
        assert worker["Authorization"].split()[1] not in line
        assert internal["x-api-key"] not in line


async def test_the_access_log_can_be_turned_off(env: dict[str, str], access_lines: Lines) -> None:
    settings = load_settings({**env, "JOBCLOUD_ACCESS_LOG": "0"})
    async with AsyncTestClient(create_app(settings, run_scheduler=False)) as client:
        assert (await client.get("/health")).status_code == 200
    assert access_lines.lines == []


async def test_the_scheduler_reports_its_loop_lag(env: dict[str, str]) -> None:
    with contextlib.suppress(KeyError):
        metrics.loop_lag.remove("sweep")  # set by an earlier test's scheduler, maybe
    settings = load_settings({**env, "JOBCLOUD_SCHEDULER_INTERVAL": "0.05"})
    async with AsyncTestClient(create_app(settings, run_scheduler=True)) as client:
        await asyncio.sleep(0.3)
        found = await scrape(client)
    for loop in ("leadership", "sweep"):  # each loop its own lag
        lag = found[("jobcloud_scheduler_loop_lag_seconds", (("loop", loop),))]
        assert 0 <= lag < 5


async def test_metrics_is_documented_with_its_503(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    responses = document["paths"]["/metrics"]["get"]["responses"]
    assert {"200", "503"} <= set(responses)
    assert "text/plain" in responses["200"]["content"]
