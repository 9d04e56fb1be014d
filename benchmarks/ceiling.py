"""The load generator's own ceiling: granian serving a trivial ASGI app, hit by the raw client.

    uv run python -m benchmarks.ceiling [--concurrency 64] [--seconds 5] [--client-processes 1]

If this figure is far above what jobcloud reaches, the client is not the bottleneck.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.harness import HOST, free_port
from benchmarks.loadgen import Connection, HttpError, percentile
from benchmarks.swarm import SwarmResult, Worker, run_swarm

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Answers `{}` to anything, as an empty pull would."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


async def ping(conn: Connection, worker: Worker, result: SwarmResult, deadline_ns: int) -> None:
    while time.perf_counter_ns() < deadline_ns:
        try:
            result.tally.record("get", await conn.request("GET", "/jobs?limit=1"), (200,))
        except HttpError:
            result.tally.failure("get", "broken connection")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--client-processes", type=int, default=1)
    args = parser.parse_args()
    port = free_port()
    granian = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", HOST]
    granian += ["--port", str(port), "--no-ws", "benchmarks.ceiling:app"]
    server = subprocess.Popen(
        granian, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        time.sleep(1.5)
        workers = [Worker(f"w{i}", "x") for i in range(args.concurrency)]
        result = run_swarm(
            HOST, port, workers, args.client_processes, timeout_s=args.seconds, scenario=ping
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=10)
    lat = result.tally.latencies.get("get", [])
    print(
        f"trivial granian app, C={args.concurrency}, client processes={args.client_processes}: "
        f"{result.tally.requests / result.wall_s:,.0f} req/s, p50 {percentile(lat, 50):.2f} ms, "
        f"p99 {percentile(lat, 99):.2f} ms, errors {result.tally.error_count}"
    )


if __name__ == "__main__":
    main()
