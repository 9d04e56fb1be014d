"""Several schedulers, as real processes, against a user API that records every status it
is sent: one is frozen (SIGSTOP), one has its database connections cut, two share one
SQLite folder. Every job's statuses arrive in order, at most one is sent twice per job and
failover, and a standby takes over within a few seconds."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import API_KEY
from tests.contract.userapi_server import UserApiServer
from tests.e2e.fleet import (
    BIN,
    SchedulerProcess,
    TcpProxy,
    check_delivery,
    queue_store,
    received,
    wait_for,
    workload,
)
from tests.e2e.jobs import submitted
from tests.e2e.test_postgres_app import database
from tests.e2e.test_server_process import free_port, mint, wait_ready

__all__ = ["database"]  # the fixture
LEASE = 1.5  # seconds


@pytest.fixture
def user_api() -> Iterator[UserApiServer]:
    api = UserApiServer()
    api.start()
    yield api
    api.stop()


@pytest.fixture
def fleet() -> Iterator[list[SchedulerProcess]]:
    started: list[SchedulerProcess] = []
    yield started
    for process in started:
        process.stop()
        print(f"--- {process.name}:\n{process.output()}")  # shown when the test fails


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'queue.db'}"


async def lead_then_standby(
    db_url: str, tmp_path: Path, user_api: UserApiServer, fleet: list[SchedulerProcess]
) -> tuple[SchedulerProcess, SchedulerProcess]:
    """A first scheduler that has delivered something, and a second one standing by."""
    first = SchedulerProcess(db_url, tmp_path / "a", user_api, LEASE)
    fleet.append(first)
    await wait_for(lambda: "leads" in first.output(), 90, "the first scheduler to lead")
    async with queue_store(db_url) as store:
        await workload(store, 1, 0, first_id=1)
    await wait_for(
        lambda: _any_finished(user_api),
        30,
        "the first scheduler to deliver",
    )
    second = SchedulerProcess(db_url, tmp_path / "b", user_api, LEASE)
    fleet.append(second)
    # Started (imports take seconds on a busy machine), and standing by.
    await wait_for(lambda: "scheduler running" in second.output(), 90, "the standby")
    await asyncio.sleep(LEASE)
    assert "leads" not in second.output()
    return first, second


@pytest.mark.postgres
async def test_a_frozen_leader_is_replaced_and_cannot_act_when_it_wakes(
    database: str, tmp_path: Path, user_api: UserApiServer, fleet: list[SchedulerProcess]
) -> None:
    first, second = await lead_then_standby(database, tmp_path, user_api, fleet)
    async with queue_store(database) as store:
        load = asyncio.create_task(workload(store, 60, 5.0))
        await asyncio.sleep(2.0)
        first.freeze()
        frozen_at = len(user_api.requests)
        # The standby takes over within the lease and a renewal or two.
        await wait_for(lambda: len(user_api.requests) > frozen_at + 5, LEASE + 4, "a takeover")
        user_ids = await load
        await asyncio.sleep(1.0)
        first.thaw()  # wakes with its lease long gone: it must not send nor write
        await asyncio.sleep(2.0)
    await wait_for(lambda: _finished(user_api, user_ids), 15, "every job delivered")
    check_delivery(user_api, user_ids, redeliveries=1)
    await wait_for(lambda: "lost its leadership" in first.output(), 10, "the old leader to see")
    assert "this scheduler leads (epoch 2)" in second.output()


@pytest.mark.postgres
async def test_a_leader_cut_off_from_the_database_stops_and_a_standby_takes_over(
    database: str, tmp_path: Path, user_api: UserApiServer, fleet: list[SchedulerProcess]
) -> None:
    url = make_url(database)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    through_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
    first = SchedulerProcess(through_proxy, tmp_path / "a", user_api, LEASE)
    fleet.append(first)
    await wait_for(lambda: "leads" in first.output(), 90, "the first scheduler to lead")
    second = SchedulerProcess(database, tmp_path / "b", user_api, LEASE)
    fleet.append(second)
    await wait_for(lambda: "scheduler running" in second.output(), 90, "the standby")
    admin = await asyncpg.connect(database)
    try:
        async with queue_store(database) as store:
            load = asyncio.create_task(workload(store, 60, 5.0))
            await asyncio.sleep(1.0)
            # Its connections are terminated: it reconnects, and keeps leading.
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = $1",
                first.name,
            )
            await asyncio.sleep(1.0)
            await proxy.cut()  # now it cannot reach the database at all
            await wait_for(
                lambda: "leads (epoch 2)" in second.output(), LEASE + 5, "the standby to lead"
            )
            user_ids = await load
            await proxy.restore()
            await wait_for(lambda: "lost its leadership" in first.output(), 10, "the old one")
    finally:
        await admin.close()
        await proxy.cut()
    await wait_for(lambda: _finished(user_api, user_ids), 20, "every job delivered")
    check_delivery(user_api, user_ids, redeliveries=1)


async def test_two_schedulers_on_one_sqlite_folder_deliver_in_order(
    sqlite_url: str, tmp_path: Path, user_api: UserApiServer, fleet: list[SchedulerProcess]
) -> None:
    first, _ = await lead_then_standby(sqlite_url, tmp_path, user_api, fleet)
    async with queue_store(sqlite_url) as store:
        load = asyncio.create_task(workload(store, 40, 4.0))
        await asyncio.sleep(2.0)
        first.stop()  # the leader goes away: the other takes over
        user_ids = await load
    await wait_for(lambda: _finished(user_api, user_ids), 20, "every job delivered")
    check_delivery(user_api, user_ids, redeliveries=1)


def _any_finished(user_api: UserApiServer) -> bool:
    return any(statuses[-1:] == ["finished"] for statuses in received(user_api).values())


def _finished(user_api: UserApiServer, user_ids: list[int]) -> bool:
    got = received(user_api)
    return all(got.get(u, [])[-1:] == ["finished"] for u in user_ids)


@pytest.fixture
def served(tmp_path: Path, user_api: UserApiServer) -> Iterator[tuple[str, Path]]:
    """`jobcloud serve` (with its scheduler) on a data folder: its URL and the folder."""
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "JOBCLOUD_"))}
    env.update(
        USERFACING_API_URL=user_api.url,
        INTERNAL_API_KEY_SECRET=API_KEY,
        JOBCLOUD_LEADER_LEASE=str(LEASE),
        JOBCLOUD_SCHEDULER_INTERVAL="0.2",
    )
    with (tmp_path / "serve.log").open("w") as log:
        serve = subprocess.Popen(
            [str(BIN / "jobcloud"), "serve", "--port", str(port), "--data-dir", str(data_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, serve, 90)
        yield base, data_dir
    finally:
        serve.terminate()
        serve.wait(timeout=30)


async def test_serve_and_a_scheduler_on_one_sqlite_folder_keep_every_job_in_order(
    served: tuple[str, Path], user_api: UserApiServer, fleet: list[SchedulerProcess]
) -> None:
    base, data_dir = served
    scheduler = SchedulerProcess(f"sqlite:///{data_dir / 'queue.db'}", data_dir, user_api, LEASE)
    fleet.append(scheduler)
    await wait_for(lambda: "scheduler running" in scheduler.output(), 90, "the scheduler")
    user_ids = await asyncio.to_thread(_run_jobs_over_http, base, data_dir, 30)
    await wait_for(lambda: _finished(user_api, user_ids), 30, "every job delivered")
    check_delivery(user_api, user_ids, redeliveries=1)


_LIFE = (("preprocessing", "p"), ("running", None), ("postprocessing", "post"), ("finished", None))


def _run_jobs_over_http(base: str, data_dir: Path, jobs: int) -> list[int]:
    """Jobs submitted and run to the end by four workers, over HTTP."""
    user_ids = list(range(90_000, 90_000 + jobs))
    tokens = [mint(data_dir, f"gpu-{n}") for n in range(4)]
    with httpx.Client(base_url=base, timeout=30) as http:
        for user_id in user_ids:
            body = submitted(user_job_id=user_id)
            assert http.post("/_jobs", json=body, headers={"x-api-key": API_KEY}).status_code == 201
        done = 0
        while done < jobs:
            for token in tokens:
                worker = {"Authorization": f"Bearer {token}"}
                for job_id in http.get("/jobs", headers=worker).json():
                    for status, details in _LIFE:
                        params = {"status": status}
                        if details:
                            params["runtime_details"] = details
                        reply = http.put(f"/jobs/{job_id}/status", params=params, headers=worker)
                        assert reply.status_code == 204, reply.text
                    done += 1
    return user_ids
