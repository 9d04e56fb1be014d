"""Scheduler processes, a workload that moves jobs through their lifecycle straight in the
store, and the checks a user API that records every request allows."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.sql.engine import create_engine
from adapters.sql.migrate import upgrade
from adapters.sql.postgres import postgres_store
from adapters.sql.store import SqlJobStore
from adapters.sql.url import async_url
from domain.jobs import (
    App,
    Environment,
    Handler,
    JobSpec,
    Meta,
    NewJob,
    Report,
    Status,
    UploadPaths,
)
from domain.matching import WorkerOffer
from tests.conftest import API_KEY
from tests.contract.userapi_server import UserApiServer

BIN = Path(sys.executable).parent
LIFE = (Status.PREPROCESSING, Status.RUNNING, Status.POSTPROCESSING, Status.FINISHED)
ORDER = [Status.PULLED.value, *(s.value for s in LIFE)]


class SchedulerProcess:
    """`jobcloud scheduler` on `db_url`, delivering to `user_api`."""

    def __init__(self, db_url: str, data_dir: Path, user_api: UserApiServer, lease: float) -> None:
        self.name = f"jobcloud-sched-{uuid.uuid4().hex[:8]}"  # its application_name
        self.log = data_dir.parent / f"{self.name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "JOBCLOUD_"))}
        env.update(
            QUEUE_DB_URL=db_url,
            USERFACING_API_URL=user_api.url,
            INTERNAL_API_KEY_SECRET=API_KEY,
            JOBCLOUD_DATA_DIR=str(data_dir),
            JOBCLOUD_LEADER_LEASE=str(lease),
            JOBCLOUD_SCHEDULER_INTERVAL="0.2",
            JOBCLOUD_DB_APPLICATION_NAME=self.name,
            TIMEOUT_FAILURE="600",
        )
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [str(BIN / "jobcloud"), "scheduler"], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text()


@asynccontextmanager
async def queue_store(db_url: str) -> AsyncIterator[Any]:
    """The store on the schedulers' database, migrated, for the workload to drive."""
    engine = create_engine(async_url(db_url), pool_size=2)
    try:
        await upgrade(engine)
        if engine.dialect.name == "postgresql":
            async with postgres_store(engine, size=2, outbox=True) as store:
                yield store
        else:
            yield SqlJobStore(engine, outbox=True)
    finally:
        await engine.dispose()


def new_job(user_job_id: int) -> NewJob:
    spec = JobSpec(
        app=App(cmd=("run",)),
        handler=Handler(image_url="img"),
        meta=Meta(job_id=user_job_id, date_created="2026-11-30"),
    )
    return NewJob(spec=spec, paths_upload=UploadPaths("out", "log", "art"))


async def workload(store: Any, jobs: int, spread: float, first_id: int = 70_000) -> list[int]:
    """`jobs` jobs started over `spread` seconds, each pulled and run to `finished` by its
    own worker with short random pauses; their user-side ids."""
    rng = random.Random(first_id)
    user_ids = [first_id + n for n in range(jobs)]

    async def life(user_id: int) -> None:
        await asyncio.sleep(rng.uniform(0, spread))
        now = datetime.now(UTC)
        job = await store.add(new_job(user_id), now)
        worker = f"w{user_id}"
        offer = WorkerOffer(worker, Environment.LOCAL)
        # It may get another's job (all match): it runs whatever it got.
        claimed = await _claim(store, offer, job.id)
        for status in LIFE:
            await asyncio.sleep(rng.uniform(0.02, 0.3))
            details = None if status is Status.RUNNING else f"{status} of {user_id}"
            assert await store.apply_report(
                Report(claimed, worker, status, datetime.now(UTC), details)
            )

    await asyncio.gather(*(life(user_id) for user_id in user_ids))
    return user_ids


async def _claim(store: Any, offer: WorkerOffer, job_id: int) -> int:
    for _ in range(100):
        got = await store.claim(offer, 1, datetime.now(UTC), retry_different=False)
        if got:
            return int(got[0].id)
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job_id} was never claimed")


def received(user_api: UserApiServer) -> dict[int, list[str]]:
    """Every status the user API was sent, per user job, in arrival order."""
    by_job: dict[int, list[str]] = {}
    for request in list(user_api.requests):
        body = request.json()
        by_job.setdefault(body["job_id"], []).append(body["status"])
    return by_job


def check_delivery(user_api: UserApiServer, user_ids: list[int], redeliveries: int) -> None:
    """Every job's statuses arrived in lifecycle order, ending `finished`; each job got at
    most `redeliveries` messages twice (one in flight per failover)."""
    got = received(user_api)
    for user_id in user_ids:
        statuses = got.get(user_id, [])
        ranks = [ORDER.index(s) for s in statuses]
        assert ranks == sorted(ranks), f"job {user_id} out of order: {statuses}"
        assert statuses[:1] == ["pulled"], f"job {user_id}: {statuses}"
        assert statuses[-1:] == ["finished"], f"job {user_id}: {statuses}"
        assert "preprocessing" in statuses, f"job {user_id}: {statuses}"  # it has details
        twice = sum(n - 1 for n in Counter(statuses).values())
        assert twice <= redeliveries, f"job {user_id} got {twice} duplicates: {statuses}"


async def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class TcpProxy:
    """A TCP proxy to `target` that the test can cut: every connection through it drops,
    and new ones are refused, until `restore` (a scheduler cut off from its database)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def restore(self) -> None:
        await self.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, up_writer}
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.transport.abort()
