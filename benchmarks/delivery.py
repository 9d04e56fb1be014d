"""Status delivery measured beside the pull cycle: a user-API stub (`userapi_stub.py`), the
scheduler as a process of its own (so its CPU is its own), and what the user side had when.

Figures: updates delivered per second during the run, the outbox backlog at its end, how
long it took to drain, jobs/s counted until the user side has every `finished`, and the
scheduler's CPU per delivered update.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import cpu
from benchmarks.harness import Backend, count_rows
from benchmarks.loadgen import Connection
from benchmarks.userapi_stub import UserApiStub

UPDATES_PER_JOB = 3  # pulled, running, finished: what the outbox gets per job of the cycle


@dataclass
class Delivery:
    jobs: int
    wall_s: float  # of the worker swarm
    sent_during: int  # statuses the user API got during the swarm
    backlog_end: int  # outbox rows when the swarm ended
    drain_s: float  # from the swarm's end until the user side had every `finished`
    until_user_s: float  # from the swarm's start until then
    scheduler_cpu_s: float
    requests: int  # statuses the user API got in all
    out_of_order: int

    def row(self) -> str:
        settled = self.jobs * UPDATES_PER_JOB
        return (
            f"updates settled/s during run {(settled - self.backlog_end) / self.wall_s:,.0f} "
            f"(user API requests/s {self.sent_during / self.wall_s:,.0f}); backlog at end "
            f"{self.backlog_end:,} ({self.backlog_end / max(settled / self.wall_s, 1):.1f} s "
            f"worth); drained in {self.drain_s:.1f} s; jobs/s until the user side has every "
            f"status {self.jobs / self.until_user_s:,.0f}; scheduler CPU per delivered update "
            f"{1000 * self.scheduler_cpu_s / settled:.3f} ms (per request "
            f"{1000 * self.scheduler_cpu_s / max(self.requests, 1):.3f} ms); out of order "
            f"{self.out_of_order}"
        )


class SchedulerProcess:
    """`jobcloud scheduler` in its own process group, on the server's environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        exe = Path(sys.executable).with_name("jobcloud")
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(exe), "scheduler"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.log = log

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


async def stats(stub: UserApiStub) -> dict[str, int]:
    host, port = stub.url.removeprefix("http://").split(":")
    connection = Connection(host, int(port))
    try:
        response = await connection.request("GET", "/stats")
    finally:
        await connection.close()
    return dict(json.loads(response.body))


async def backlog(backend: Backend) -> int:
    return await count_rows(backend, "SELECT count(*) FROM outbox")


def measure(
    stub: UserApiStub,
    scheduler: SchedulerProcess,
    backend: Backend,
    jobs: int,
    swarm: tuple[int, int],
    before: tuple[dict[str, int], cpu.CpuTimes],
    timeout_s: float = 60.0,
) -> Delivery:
    """After a swarm of (start, end) perf_counter_ns: the backlog then, and the drain."""
    started_ns, ended_ns = swarm
    at_end = asyncio.run(stats(stub))
    left = asyncio.run(backlog(backend))
    deadline = time.monotonic() + timeout_s
    now = at_end
    while now["finished"] < jobs and time.monotonic() < deadline:
        time.sleep(0.1)
        now = asyncio.run(stats(stub))
    used = cpu.snapshot(scheduler.process.pid) - before[1]
    last_ns = max(now["last_ns"], ended_ns)
    return Delivery(
        jobs=now["finished"],
        wall_s=(ended_ns - started_ns) / 1e9,
        sent_during=at_end["requests"] - before[0]["requests"],
        backlog_end=left,
        drain_s=(last_ns - ended_ns) / 1e9,
        until_user_s=(last_ns - started_ns) / 1e9,
        scheduler_cpu_s=used.server,
        requests=now["requests"] - before[0]["requests"],
        out_of_order=now["out_of_order"],
    )
