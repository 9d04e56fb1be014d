"""Pull latency against queue depth: is the queued-job lookup index-backed?

    uv run python -m benchmarks.queue_depth [--db postgres|sqlite]
        [--depths 1000,100000,1000000] [--pulls 500]

For each depth: a fresh database, that many queued jobs bulk-inserted with SQL (priorities 0-9,
creation times spread over 30 days, one in ten pinned to the cloud environment so the local
benchmark worker cannot take it), the server started, then one worker doing `--pulls`
sequential pull -> running -> finished cycles after a short warm-up. Prints p50/p99 pull
latency and the ratio to the first depth.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import HOST, Backend, Server, fresh_backend, mint_workers
from benchmarks.loadgen import Connection, percentile
from benchmarks.preload import preload
from benchmarks.swarm import SwarmResult, Worker, pull_cycle

WARM_UP = 50


@dataclass
class Measure:
    depth: int
    preload_s: float
    pulls: list[int]  # ns
    errors: int

    def p(self, q: float) -> float:
        return percentile(self.pulls, q)


def migrate(server: Server) -> None:
    """Create the schema with `jobcloud db upgrade`, as an operator would."""
    exe = Path(sys.executable).with_name("jobcloud")
    args = [str(exe), "db", "upgrade", "--data-dir", str(server.backend.data_dir)]
    subprocess.run(args, env=server.env(), check=True, capture_output=True)


async def sequential_pulls(port: int, worker: Worker, count: int) -> SwarmResult:
    conn = Connection(HOST, port, {"Authorization": f"Bearer {worker.token}"})
    deadline = time.perf_counter_ns() + int(600e9)
    warm = SwarmResult()
    await pull_cycle(conn, worker, warm, deadline, max_jobs=WARM_UP)
    result = SwarmResult(started_ns=time.perf_counter_ns())
    await pull_cycle(conn, worker, result, deadline, max_jobs=count)
    result.ended_ns = time.perf_counter_ns()
    await conn.close()
    return result


def measure(backend: Backend, depth: int, pulls: int) -> Measure:
    server = Server(backend, scheduler=False)
    migrate(server)
    started = time.perf_counter()
    preload(backend, depth)
    preload_s = time.perf_counter() - started
    print(f"  depth {depth:,}: preloaded in {preload_s:.1f} s", flush=True)
    with server:
        worker = mint_workers(backend.data_dir, 1, prefix="depth")[0]
        result = asyncio.run(sequential_pulls(server.port, worker, pulls))
    lat = result.tally.latencies.get("pull", [])
    if result.tally.errors:
        print(f"  errors: {result.tally.errors}\n{server.log_tail(15)}")
    if len(result.claims) < pulls:
        print(f"  only {len(result.claims)} jobs pulled of {pulls}")
    return Measure(depth, preload_s, lat, result.tally.error_count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--depths", default="1000,100000,1000000")
    parser.add_argument("--pulls", type=int, default=500)
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    print(f"queue depth on {args.db}: {args.pulls} sequential cycles per depth", flush=True)
    rows = []
    for depth in depths:
        with fresh_backend(args.db) as backend:
            rows.append(measure(backend, depth, args.pulls))
    base = rows[0]
    print(
        f"\n{'depth':>10} {'preload s':>9} {'pull p50':>9} {'pull p99':>9} {'p50 x':>6} "
        f"{'p99 x':>6} {'errors':>6}"
    )
    for row in rows:
        print(
            f"{row.depth:>10,} {row.preload_s:>9.1f} {row.p(50):>9.2f} {row.p(99):>9.2f} "
            f"{row.p(50) / base.p(50):>6.2f} {row.p(99) / base.p(99):>6.2f} {row.errors:>6}"
        )
    print("(latencies in ms; x = ratio to the first depth)")


if __name__ == "__main__":
    main()
