"""StatusSink contract: the httpx adapter against a real HTTP server on 127.0.0.1.

The server is a small stdlib ThreadingHTTPServer standing in for the DECODE user API: it
records every request and answers from a script. Then ForwardUpdates runs with the real
client against it: a user API that is down for a while, and one that deleted a job.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.userapi.client import UserApiStatusSink, UserJobGone
from adapters.userapi.http11 import Http11Origin
from domain.errors import NotAssigned, NotFound, Rejected, Unavailable
from domain.jobs import App, Handler, JobSpec, Meta, NewJob, Status, UploadPaths
from domain.matching import WorkerOffer
from domain.transfers import StatusUpdate
from domain.use_cases.forwarding import BACKOFF_MAX, ForwardUpdates
from domain.use_cases.report import ReportStatus
from domain.workers import Principal
from tests.contract.sql_support import outbox_of
from tests.contract.userapi_server import UserApiServer
from tests.fakes.clock import FakeClock
from tests.fakes.store import InMemoryJobStore

API_KEY = "internal-secret"


@pytest.fixture
def server() -> Iterator[UserApiServer]:
    api = UserApiServer()
    api.start()
    yield api
    api.stop()


@pytest.fixture(params=["httpx", "http11"])
async def http(request: pytest.FixtureRequest) -> Any:
    """The client the sink speaks through: an httpx client, or (marked by None) its own
    kept-alive connections (`Http11Origin`, as the scheduler uses)."""
    if request.param == "http11":
        yield None
        return
    async with httpx.AsyncClient() as client:
        yield client


def sink_for(http: httpx.AsyncClient | None, url: str, timeout: float = 5.0) -> UserApiStatusSink:
    client = Http11Origin(url, 4) if http is None else http
    return UserApiStatusSink(client, url, API_KEY, timeout=timeout)


def update(
    user_job_id: int = 42, status: Status = Status.RUNNING, details: str | None = "epoch 3"
) -> StatusUpdate:
    return StatusUpdate(
        message_id=1, job_id=7, user_job_id=user_job_id, status=status, runtime_details=details
    )


def forwarder(store: Any, clock: FakeClock, sink: UserApiStatusSink) -> ForwardUpdates:
    return ForwardUpdates(store, outbox_of(store), clock, sink)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- the adapter ---------------------------------------------------------------------------


async def test_sends_put_with_api_key_and_decode_body(
    server: UserApiServer, http: httpx.AsyncClient
) -> None:
    await sink_for(http, server.url + "/").send(update(42, Status.FINISHED, "all done"))

    [request] = server.requests
    assert (request.method, request.path) == ("PUT", "/_job_status")
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"job_id": 42, "status": "finished", "runtime_details": "all done"}


async def test_base_url_with_a_prefix_keeps_it(
    server: UserApiServer, http: httpx.AsyncClient
) -> None:
    await sink_for(http, server.url + "/api/v1").send(update())
    assert server.requests[0].path == "/api/v1/_job_status"


async def test_missing_runtime_details_is_sent_as_an_empty_string(
    server: UserApiServer, http: httpx.AsyncClient
) -> None:
    await sink_for(http, server.url).send(update(details=None))
    assert server.requests[0].json()["runtime_details"] == ""


@pytest.mark.parametrize("code", [200, 201, 204])
async def test_any_2xx_is_delivered(
    server: UserApiServer, http: httpx.AsyncClient, code: int
) -> None:
    server.script = lambda request, index: (code, "")
    await sink_for(http, server.url).send(update())
    assert server.answers == [code]


async def test_404_means_the_user_deleted_the_job(
    server: UserApiServer, http: httpx.AsyncClient
) -> None:
    server.script = lambda request, index: (404, '{"detail": "Job not found"}')
    with pytest.raises(NotFound) as caught:
        await sink_for(http, server.url).send(update(user_job_id=99))
    assert isinstance(caught.value, UserJobGone)
    assert caught.value.user_job_id == 99


@pytest.mark.parametrize("code", [500, 502, 503, 429])
async def test_server_errors_and_throttling_are_unavailable(
    server: UserApiServer, http: httpx.AsyncClient, code: int
) -> None:
    server.script = lambda request, index: (code, "")
    with pytest.raises(Unavailable):
        await sink_for(http, server.url).send(update())


@pytest.mark.parametrize("code", [400, 422])
async def test_a_refused_update_is_rejected_for_good(
    server: UserApiServer, http: httpx.AsyncClient, code: int
) -> None:
    server.script = lambda request, index: (code, '{"detail": "unknown status"}')
    with pytest.raises(Rejected, match="unknown status"):
        await sink_for(http, server.url).send(update())


@pytest.mark.parametrize("code", [401, 403, 301])
async def test_refusals_are_unavailable_and_logged_as_errors(
    server: UserApiServer,
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    code: int,
) -> None:
    server.script = lambda request, index: (code, '{"detail": "bad key"}')
    with (
        caplog.at_level(logging.ERROR, logger="adapters.userapi.client"),
        pytest.raises(Unavailable),
    ):
        await sink_for(http, server.url).send(update())
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert str(code) in record.getMessage()
    assert "bad key" in record.getMessage()
    assert API_KEY not in record.getMessage()


async def test_connection_refused_is_unavailable(http: httpx.AsyncClient) -> None:
    with pytest.raises(Unavailable) as caught:
        await sink_for(http, f"http://127.0.0.1:{free_port()}").send(update())
    assert not isinstance(caught.value, NotFound)


async def test_timeout_is_unavailable(server: UserApiServer, http: httpx.AsyncClient) -> None:
    server.delay_for = lambda index: 5.0
    with pytest.raises(Unavailable, match="timed out"):
        await sink_for(http, server.url, timeout=0.2).send(update())


async def test_a_malformed_url_is_unavailable_not_an_httpx_error(
    http: httpx.AsyncClient | None,
) -> None:
    if http is None:  # the lean client refuses it when built (at start-up)
        with pytest.raises(ValueError, match="not an http"):
            sink_for(http, "ftp://127.0.0.1:1")
        return
    with pytest.raises(Unavailable):
        await sink_for(http, "ftp://127.0.0.1:1").send(update())


async def test_kept_alive_connections_are_reused_and_closed_ones_replaced(
    server: UserApiServer,
) -> None:
    origin = Http11Origin(server.url, 2)
    sink = UserApiStatusSink(origin, server.url, API_KEY)
    for n in range(3):
        await sink.send(update(user_job_id=n))
    await origin.aclose()  # its kept-alive connections close: the next opens a new one
    await sink.send(update(user_job_id=3))
    assert [r.json()["job_id"] for r in server.requests] == [0, 1, 2, 3]
    await origin.aclose()


# -- ForwardUpdates with the real client -----------------------------------------------------


def new_job(user_job_id: int) -> NewJob:
    spec = JobSpec(
        app=App(cmd=("run",)),
        handler=Handler(image_url="img"),
        meta=Meta(job_id=user_job_id, date_created="2026-01-01"),
    )
    return NewJob(spec=spec, paths_upload=UploadPaths("out", "log", "art"))


WORKER = Principal("gpu-1", frozenset({"workers"}))
PATH = (Status.PREPROCESSING, Status.RUNNING, Status.POSTPROCESSING, Status.FINISHED)


async def run_jobs(store: InMemoryJobStore, clock: FakeClock, user_ids: list[int]) -> list[int]:
    """Submit, claim and run every job to the end; returns the queue ids."""
    ids = [(await store.add(new_job(uid), clock.now())).id for uid in user_ids]
    offer = WorkerOffer(WORKER.username, WORKER.environment)
    await store.claim(offer, len(ids), clock.now(), retry_different=True)
    report = ReportStatus(store, clock)
    for status in PATH:
        for job_id in ids:
            clock.advance(1)
            await report(WORKER, job_id, status, f"{status} of {job_id}")
    return ids


async def drain(forward: ForwardUpdates, clock: FakeClock, store: InMemoryJobStore) -> None:
    for _ in range(100):
        await forward()
        if not await outbox_of(store).pending_updates(clock.now() + BACKOFF_MAX, 1):
            return
        clock.advance(BACKOFF_MAX.total_seconds())
    raise AssertionError("the outbox never drained")


def accepted(server: UserApiServer) -> dict[int, list[str]]:
    by_job: dict[int, list[str]] = {}
    for request, code in zip(server.requests, server.answers, strict=True):
        if 200 <= code < 300:
            body = request.json()
            by_job.setdefault(body["job_id"], []).append(body["status"])
    return by_job


async def test_forwarding_survives_a_user_api_outage_in_order(
    server: UserApiServer, http: httpx.AsyncClient
) -> None:
    store, clock = InMemoryJobStore(), FakeClock()
    user_ids = [101, 102, 103]
    await run_jobs(store, clock, user_ids)
    server.script = lambda request, index: (503, "") if index < 7 else (204, "")

    await drain(
        ForwardUpdates(store, outbox_of(store), clock, sink_for(http, server.url)), clock, store
    )

    expected = ["pulled", "preprocessing", "running", "postprocessing", "finished"]
    assert accepted(server) == dict.fromkeys(user_ids, expected)
    assert server.answers[:7] == [503] * 7
    # Every attempt of a job, failed or not, came in order: no message overtook an older one.
    for uid in user_ids:
        tried = [r.json()["status"] for r in server.requests if r.json()["job_id"] == uid]
        assert tried == sorted(tried, key=expected.index)
    bodies = [r.json() for r, code in zip(server.requests, server.answers, strict=True)]
    assert {"job_id": 101, "status": "running", "runtime_details": "running of 1"} in bodies


async def test_forwarding_while_the_server_is_not_even_listening(
    http: httpx.AsyncClient,
) -> None:
    store, clock = InMemoryJobStore(), FakeClock()
    await run_jobs(store, clock, [5])
    forward = ForwardUpdates(
        store, outbox_of(store), clock, sink_for(http, f"http://127.0.0.1:{free_port()}")
    )

    assert await forward() == 0
    pending, *_ = await outbox_of(store).pending_updates(clock.now() + BACKOFF_MAX, 10)
    assert (pending.status, pending.attempts) == (Status.PULLED, 1)


async def test_a_404_cancels_the_job_and_the_worker_is_told_to_stop(
    server: UserApiServer, http: httpx.AsyncClient
) -> None:
    store, clock = InMemoryJobStore(), FakeClock()
    gone, kept = (
        await store.add(new_job(666), clock.now()),
        await store.add(new_job(1), clock.now()),
    )
    offer = WorkerOffer(WORKER.username, WORKER.environment)
    await store.claim(offer, 2, clock.now(), retry_different=True)
    report = ReportStatus(store, clock)
    await report(WORKER, gone.id, Status.RUNNING, None)
    server.script = lambda request, index: (
        (404, "") if request.json()["job_id"] == 666 else (204, "")
    )

    await drain(
        ForwardUpdates(store, outbox_of(store), clock, sink_for(http, server.url)), clock, store
    )

    assert (await store.get(gone.id)).status is Status.CANCELED
    assert (await store.get(kept.id)).status is Status.PULLED
    # The job's later update (running) was dropped, not sent after the 404.
    assert [r.json()["status"] for r in server.requests if r.json()["job_id"] == 666] == ["pulled"]
    with pytest.raises(NotAssigned, match="canceled"):
        await report(WORKER, gone.id, Status.RUNNING, None)


async def test_a_lost_answer_is_sent_again_at_least_once_in_order(
    server: UserApiServer, http: httpx.AsyncClient
) -> None:
    store, clock = InMemoryJobStore(), FakeClock()
    await run_jobs(store, clock, [7])
    # The first update is accepted, but the answer comes too late: the client times out.
    server.delay_for = lambda index: 5.0 if index == 0 else 0.0

    await drain(
        ForwardUpdates(store, outbox_of(store), clock, sink_for(http, server.url, 0.3)),
        clock,
        store,
    )

    assert accepted(server) == {
        7: ["pulled", "pulled", "preprocessing", "running", "postprocessing", "finished"]
    }
