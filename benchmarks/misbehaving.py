"""One misbehaving worker among good ones (issue 9): do the good ones see any error?

    uv run python -m benchmarks.misbehaving [--db postgres|sqlite] [--jobs 3000]
        [--good 63] [--bad 1] [--server-workers 2]

A fresh database and server, N jobs enqueued over HTTP, then `good` workers doing the usual
pull -> running -> finished cycle until the queue is empty while `bad` workers, as long as the
good ones run, send what once broke the shared statements (issue 9): `older_than=1e11`,
`memory=2^63`, a GPU model of 300 characters, a job id beyond 64 bits, a NUL byte in
`runtime_details`. Reported: the errors the good workers saw (target 0), the answers the bad
one got (all 4xx, never 5xx), and whether every job was handed out once and ended `finished`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections import Counter

from benchmarks.harness import (
    HOST,
    Server,
    enqueue_http,
    fresh_backend,
    mint_workers,
    statuses_http,
)
from benchmarks.loadgen import Connection, HttpError, Tally, percentile
from benchmarks.swarm import SwarmResult, Worker, pull_cycle, run_swarm

BAD_REQUESTS = (
    ("pull", "GET", "/jobs?older_than=100000000000"),
    ("pull", "GET", f"/jobs?memory={2**63}"),
    ("pull", "GET", "/jobs?gpu_model=" + "x" * 300),
    ("report", "PUT", f"/jobs/{2**64}/status?status=running"),
    ("report", "PUT", "/jobs/1/status?status=running&runtime_details=epoch%00"),
)
REFUSED = (400, 404, 409, 413, 422)


def scenario(bad_names: frozenset[str], bad_tally: Tally) -> object:
    """Good workers cycle until the queue is empty; bad ones misbehave while any good one
    (of their process) still runs."""
    running = {"good": 0, "started": False}

    async def run(conn: Connection, worker: Worker, result: SwarmResult, deadline: int) -> None:
        if worker.username not in bad_names:
            running["good"] += 1
            running["started"] = True
            try:
                await pull_cycle(conn, worker, result, deadline)
            finally:
                running["good"] -= 1
            return
        for kind, method, path in itertools.cycle(BAD_REQUESTS):
            if time.perf_counter_ns() > deadline or (running["started"] and not running["good"]):
                return
            try:
                response = await conn.request(method, path)
            except HttpError:
                bad_tally.failure(kind, "broken connection")
                continue
            bad_tally.record(kind, response, REFUSED)
            await asyncio.sleep(0)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--good", type=int, default=63)
    parser.add_argument("--bad", type=int, default=1)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=50.0, help="seconds at most")
    args = parser.parse_args()
    with fresh_backend(args.db) as backend, Server(backend, args.server_workers, None) as server:
        ids = asyncio.run(enqueue_http(server, args.jobs))
        workers = mint_workers(backend.data_dir, args.good + args.bad)
        bad_names = frozenset(w.username for w in workers[: args.bad])
        bad_tally = Tally()
        run = scenario(bad_names, bad_tally)
        result = run_swarm(HOST, server.port, workers, 1, args.timeout, run)  # type: ignore[arg-type]
        by_name = {w.username: w for w in workers}
        claims = {job_id: by_name[name] for job_id, name in result.claims}
        statuses = Counter(asyncio.run(statuses_http(server, claims)))
        if result.tally.errors or any(k.split()[1].startswith("5") for k in bad_tally.errors):
            print(f"server log tail:\n{server.log_tail(15)}")
    done, wall = len(result.claims), result.wall_s
    print(
        f"{args.db}, {args.server_workers} server processes: {args.good} good workers, "
        f"{args.bad} misbehaving, {len(ids)} jobs"
    )
    print(
        f"  good: {done} jobs in {wall:.1f} s ({done / wall:,.0f} jobs/s), "
        f"pull p99 {percentile(result.tally.latencies.get('pull', []), 99):.1f} ms, "
        f"errors {result.tally.error_count} {dict(result.tally.errors)}"
    )
    print(
        f"  misbehaving: {bad_tally.requests} requests, answers other than 400/404/409/413/422: "
        f"{bad_tally.error_count} {dict(bad_tally.errors)}"
    )
    print(
        f"  double claims {len(result.claims) - len(claims)}, "
        f"claimed by the misbehaving {sum(1 for w in claims.values() if w.username in bad_names)}, "
        f"never handed out {len(set(ids) - set(claims))}, statuses {dict(statuses)}"
        + ("; TIMED OUT" if result.timed_out else "")
    )


if __name__ == "__main__":
    main()
