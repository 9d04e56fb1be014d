"""Simulated workers: one keep-alive connection each, spread over a few OS processes.

Each process opens its connections, waits at a barrier, then runs its workers on one event loop;
start and end are read with `time.perf_counter_ns` (CLOCK_MONOTONIC, comparable across processes
on Linux), so the wall time is `max(end) - min(start)` over the processes.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier

from benchmarks.loadgen import Connection, HttpError, Tally

PULL_QUERY = "/jobs?memory=64000&limit=1"
MAX_CONSECUTIVE_FAILURES = 20


@dataclass(frozen=True, slots=True)
class Worker:
    username: str
    token: str


@dataclass
class SwarmResult:
    tally: Tally = field(default_factory=Tally)
    claims: list[tuple[int, str]] = field(default_factory=list)  # (job id, worker), every one
    started_ns: int = 0
    ended_ns: int = 0
    timed_out: bool = False

    @property
    def wall_s(self) -> float:
        return (self.ended_ns - self.started_ns) / 1e9

    def merge(self, other: SwarmResult) -> None:
        self.tally.merge(other.tally)
        self.claims.extend(other.claims)
        self.started_ns = min(self.started_ns or other.started_ns, other.started_ns)
        self.ended_ns = max(self.ended_ns, other.ended_ns)
        self.timed_out = self.timed_out or other.timed_out


async def pull_cycle(
    conn: Connection,
    worker: Worker,
    result: SwarmResult,
    deadline_ns: int,
    max_jobs: int | None = None,
    query: str = PULL_QUERY,
) -> None:
    """Pull -> running -> finished until the queue is empty (or max_jobs, or the deadline)."""
    tally = result.tally
    failures = done = 0
    while max_jobs is None or done < max_jobs:
        if time.perf_counter_ns() > deadline_ns:
            result.timed_out = True
            return
        if failures >= MAX_CONSECUTIVE_FAILURES:
            tally.failure("pull", "gave up")
            return
        try:
            pulled = await conn.request("GET", query)
        except HttpError:
            tally.failure("pull", "broken connection")
            failures += 1
            continue
        if not tally.record("pull", pulled, (200,)):
            failures += 1
            continue
        failures = 0
        ids = [int(key) for key in json.loads(pulled.body)]
        if not ids:
            return  # the queue is empty for this worker
        for job_id in ids:
            result.claims.append((job_id, worker.username))
            for status in ("running", "finished"):
                await _report(conn, tally, job_id, status)
            done += 1


Scenario = Callable[[Connection, Worker, "SwarmResult", int], Awaitable[None]]


async def _report(conn: Connection, tally: Tally, job_id: int, status: str) -> None:
    try:
        response = await conn.request("PUT", f"/jobs/{job_id}/status?status={status}")
    except HttpError:
        tally.failure(status, "broken connection")
        return
    tally.record(status, response, (204,))


async def _run_process(
    host: str,
    port: int,
    workers: list[Worker],
    barrier: Barrier | None,
    timeout_s: float,
    scenario: Scenario,
) -> SwarmResult:
    conns = [Connection(host, port, {"Authorization": f"Bearer {w.token}"}) for w in workers]
    await asyncio.gather(*(c.open() for c in conns))
    if barrier is not None:
        await asyncio.to_thread(barrier.wait)
    result = SwarmResult(started_ns=time.perf_counter_ns())
    deadline = result.started_ns + int(timeout_s * 1e9)
    pairs = zip(conns, workers, strict=True)
    await asyncio.gather(*(scenario(c, w, result, deadline) for c, w in pairs))
    result.ended_ns = time.perf_counter_ns()
    await asyncio.gather(*(c.close() for c in conns))
    return result


def _child(
    host: str,
    port: int,
    workers: list[Worker],
    barrier: Barrier,
    out: multiprocessing.Queue[SwarmResult],
    timeout_s: float,
    scenario: Scenario,
) -> None:
    out.put(asyncio.run(_run_process(host, port, workers, barrier, timeout_s, scenario)))


def run_swarm(
    host: str,
    port: int,
    workers: list[Worker],
    processes: int = 1,
    timeout_s: float = 300.0,
    scenario: Scenario = pull_cycle,
) -> SwarmResult:
    """Run `scenario` for every worker (default: pull cycles until the queue is empty)."""
    processes = max(1, min(processes, len(workers)))
    if processes == 1:
        return asyncio.run(_run_process(host, port, workers, None, timeout_s, scenario))
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(processes)
    out: multiprocessing.Queue[SwarmResult] = ctx.Queue()
    children = [
        ctx.Process(
            target=_child,
            args=(host, port, workers[i::processes], barrier, out, timeout_s, scenario),
        )
        for i in range(processes)
    ]
    for child in children:
        child.start()
    total = SwarmResult()
    for _ in children:
        total.merge(out.get(timeout=timeout_s + 60))
    for child in children:
        child.join()
    return total
