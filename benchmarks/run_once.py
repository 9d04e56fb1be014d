"""Run once: submissions per second with keys (new, duplicate) and without, and claims per
second through the porch API's `tasks/claim`.

    uv run python -m benchmarks.run_once [--db postgres|sqlite] [--requests 2000]
        [--concurrency 8,64] [--server-workers 2]

One fresh database for the whole run, a worker API server (`--server-workers` processes) and
a user API server (one process: the porch API lives there) on it. For each C, C keep-alive
connections send `--requests` POST /_jobs of each kind to the worker API: no key (201 each), a
new key each (201 each), one key for all (one 201, then 200 with the existing job). Then
`--requests` porch tasks are added and C claimers call `POST porch/tasks/claim?num_tasks=1` on
the user API until the pipeline has none left; every task must be claimed exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import HOST, Server, analyze, fresh_backend, job_document
from benchmarks.loadgen import Connection, percentile

PIPELINE = {"name": "bench", "uri": "https://example.org/bench", "version": "1"}


async def _drive(
    server: Server,
    concurrency: int,
    count: int,
    request: Callable[[int], tuple[str, str, bytes]],
    headers: dict[str, str],
) -> tuple[float, Counter[int], list[int]]:
    """`count` requests over `concurrency` connections: wall seconds, statuses, latencies."""
    counter = iter(range(count))
    statuses: Counter[int] = Counter()
    latencies: list[int] = []

    async def one_connection() -> None:
        conn = Connection(HOST, server.port, headers)
        for n in counter:
            method, path, body = request(n)
            response = await conn.request(method, path, body)
            statuses[response.status] += 1
            latencies.append(response.elapsed_ns)
        await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(concurrency)))
    return time.perf_counter() - started, statuses, latencies


def submission(kind: str, run: str) -> Callable[[int], tuple[str, str, bytes]]:
    def request(n: int) -> tuple[str, str, bytes]:
        body: dict[str, object] = job_document(n)
        if kind == "new key":
            body["key"] = f"{run}-{n}"
        elif kind == "duplicate key":
            body["key"] = f"{run}-the-one"
        return "POST", "/_jobs", json.dumps(body).encode()

    return request


async def _claims(server: Server, token: str, concurrency: int) -> tuple[float, Counter[str], int]:
    """C claimers until empty: wall seconds, how often each task was handed out, requests."""
    handed: Counter[str] = Counter()
    body = json.dumps(PIPELINE).encode()
    requests = 0

    async def claimer() -> None:
        nonlocal requests
        conn = Connection(HOST, server.port, {"Authorization": f"Bearer {token}"})
        while True:
            response = await conn.request("POST", "/porch/tasks/claim?num_tasks=1", body)
            requests += 1
            tasks = json.loads(response.body)
            if response.status != 200 or not tasks:
                break
            handed.update(t["task_input_id"] for t in tasks)
        await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(claimer() for _ in range(concurrency)))
    return time.perf_counter() - started, handed, requests


def admin_token(server: Server) -> str:
    exe = Path(sys.executable).with_name("jobcloud")
    args = [str(exe), "porch-token", "--data-dir", str(server.backend.data_dir)]
    result = subprocess.run(args, env=server.env(), capture_output=True, text=True, check=True)
    return result.stdout.strip()


def row(label: str, c: int, wall: float, statuses: Counter[int], latencies: list[int]) -> str:
    total = sum(statuses.values())
    codes = ",".join(f"{code}x{n}" for code, n in sorted(statuses.items()))
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return f"{label:<22} {c:>3} {total:>6} {total / wall:>8,.0f} {p50:>7.1f} {p99:>7.1f}  {codes}"


def submissions(server: Server, args: argparse.Namespace) -> None:
    """Keyed and unkeyed `POST /_jobs` on the worker API."""
    api = {"x-api-key": server.api_key}
    for c in args.concurrency:
        for kind in ("no key", "new key", "duplicate key"):
            outcome = asyncio.run(_drive(server, c, args.requests, submission(kind, f"c{c}"), api))
            print(row(f"POST /_jobs {kind}", c, *outcome), flush=True)


def porch(server: Server, args: argparse.Namespace) -> None:
    """Tasks added, then claimed, through the porch API of the user API."""
    token = admin_token(server)
    admin = {"Authorization": f"Bearer {token}"}
    pipeline = json.dumps(PIPELINE).encode()
    asyncio.run(_drive(server, 1, 1, lambda n: ("POST", "/porch/pipelines/", pipeline), admin))
    for c in args.concurrency:

        def task(n: int, c: int = c) -> tuple[str, str, bytes]:
            body = {"pipeline": PIPELINE, "task_input": {"c": c, "n": n}}
            return "POST", "/porch/tasks/", json.dumps(body).encode()

        added = asyncio.run(_drive(server, c, args.requests, task, admin))
        print(row("POST porch/tasks/", c, *added), flush=True)
        if server.backend.kind == "postgres":
            asyncio.run(analyze(server.backend))
        wall, handed, requests = asyncio.run(_claims(server, token, c))
        doubles = sum(1 for n in handed.values() if n > 1)
        print(
            f"{'POST porch/tasks/claim':<22} {c:>3} {requests:>6} "
            f"{sum(handed.values()) / wall:>8,.0f} claims/s; "
            f"{len(handed)} of {args.requests} tasks claimed, {doubles} twice",
            flush=True,
        )


def run(args: argparse.Namespace) -> None:
    with fresh_backend(args.db) as backend:
        server = Server(backend, server_workers=args.server_workers).start(timeout_s=180)
        user = Server(backend, scheduler=False, api="user", api_key=server.api_key)
        try:
            user.start(timeout_s=180)
            print(f"{'kind':<22} {'C':>3} {'req':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
            submissions(server, args)
            porch(user, args)
        finally:
            user.stop()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[8, 64]
    )
    parser.add_argument("--server-workers", type=int, default=2)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
