"""Throughput of the worker cycle: pull -> running -> finished, C workers at once, until empty.

    uv run python -m benchmarks.pull_cycle [--db postgres|sqlite] [--jobs 10000]
        [--concurrency 1,8,64] [--server-workers 1] [--client-processes 1] [--pool-size N]
        [--user-api | --no-user-side | --via-user-api]

For each C: a fresh database and server, N jobs enqueued over HTTP, C simulated workers (each
its own username, token and keep-alive connection), then a check that every job was handed out
once and ended `finished`. With --user-api: a user-API stub gets every status, the scheduler
runs as a process of its own, and the status delivery is measured too (`delivery.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass

from benchmarks import cpu
from benchmarks.delivery import Delivery, SchedulerProcess, backlog, measure, stats
from benchmarks.harness import (
    HOST,
    Backend,
    Server,
    analyze,
    enqueue_http,
    fresh_backend,
    mint_workers,
    statuses_http,
)
from benchmarks.loadgen import percentile
from benchmarks.swarm import SwarmResult, Worker, run_swarm
from benchmarks.user_side import submit_http, user_side_env, wait_user_side
from benchmarks.userapi_stub import UserApiStub


@dataclass
class Outcome:
    concurrency: int
    jobs: int
    result: SwarmResult
    double_claims: int
    statuses: dict[str, int]
    cpu: cpu.CpuTimes
    delivery: Delivery | None = None
    # --via-user-api: jobs finished there, after how many s, the outbox when the swarm ended
    user_side: tuple[int, float, int] | None = None

    def user_side_row(self) -> str | None:
        if self.user_side is None:
            return None
        done, after_s, left = self.user_side
        lag = after_s - self.result.wall_s
        # the status messages written per second during the swarm: pulled, running, finished
        rate = 3 * len(self.result.claims) / self.result.wall_s
        return (
            f"outbox at the end {left} ({left / rate:.1f} s worth); {done} of {self.jobs} user"
            f" jobs `finished` on the user side {lag:.2f} s after the swarm ended; jobs/s until"
            f" then {done / after_s:,.0f}"
        )

    @property
    def unfinished(self) -> int:
        return self.jobs - self.statuses.get("finished", 0)

    def row(self) -> str:
        r, lat = self.result, self.result.tally.latencies
        done = len(r.claims)
        return (
            f"{self.concurrency:>4} {done:>7} {r.wall_s:>7.1f} {done / r.wall_s:>8,.0f} "
            f"{r.tally.requests / r.wall_s:>8,.0f} {percentile(lat.get('pull', []), 50):>7.1f} "
            f"{percentile(lat.get('pull', []), 99):>7.1f} "
            f"{percentile(lat.get('finished', []), 99):>7.1f} {r.tally.error_count:>6} "
            f"{self.double_claims:>6} {self.unfinished:>6}"
        )


HEADER = (
    f"{'C':>4} {'jobs':>7} {'wall s':>7} {'jobs/s':>8} {'req/s':>8} {'pull50':>7} "
    f"{'pull99':>7} {'fin99':>7} {'errors':>6} {'double':>6} {'unfin':>6}"
)


def _server_env(
    args: argparse.Namespace, stub: UserApiStub | None, backend: Backend
) -> dict[str, str]:
    """What the mode asks of the server: a user-API stub to forward to, no user side, or a
    catalogue for submissions on the user API (else the embedded default as it is)."""
    if stub is not None:
        return {"USERFACING_API_URL": stub.url}
    if args.no_user_side:
        return {"JOBCLOUD_USER_API": "0"}
    if args.via_user_api:
        return user_side_env(backend.data_dir)
    return {}


def run_one(args: argparse.Namespace, concurrency: int) -> Outcome:
    with fresh_backend(args.db) as backend, contextlib.ExitStack() as stack:
        stub = stack.enter_context(UserApiStub()) if args.user_api else None
        server = Server(
            backend,
            args.server_workers,
            args.pool_size,
            scheduler=not args.no_scheduler and stub is None and not args.scheduler_process,
            extra_env=_server_env(args, stub, backend),
            api="both" if args.via_user_api else "worker",
        )
        with server:
            scheduler = None
            if stub is not None or args.scheduler_process:
                env = {**server.env(), "JOBCLOUD_SCHEDULER": "1"}
                scheduler = SchedulerProcess(env, backend.data_dir / "scheduler.log")
                stack.callback(scheduler.stop)
            started = time.perf_counter()
            if args.via_user_api:
                count, ids = asyncio.run(submit_http(server, args.jobs)), None
            else:
                ids = asyncio.run(enqueue_http(server, args.jobs))
                count = len(ids)
            print(
                f"  C={concurrency}: enqueued {count} jobs over HTTP in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            if backend.pg_name:
                # A steady-state queue has statistics; autovacuum takes up to a minute after
                # a burst (see migration 0002), so give them to the planner now.
                asyncio.run(analyze(backend))
            workers = mint_workers(backend.data_dir, concurrency)
            before = cpu.snapshot(server.process.pid if server.process else None)
            user_before = None
            if stub is not None and scheduler is not None:
                user_before = (asyncio.run(stats(stub)), cpu.snapshot(scheduler.process.pid))
            result = run_swarm(HOST, server.port, workers, args.client_processes, args.timeout)
            used = cpu.snapshot(server.process.pid if server.process else None) - before
            user_side = None
            if args.via_user_api:
                left = asyncio.run(backlog(backend))  # the outbox as the swarm ends
                done, at_ns = wait_user_side(backend, count)
                user_side = (done, (at_ns - result.started_ns) / 1e9, left)
            delivery = None
            if stub is not None and scheduler is not None and user_before is not None:
                swarm = (result.started_ns, result.ended_ns)
                delivery = measure(stub, scheduler, backend, len(result.claims), swarm, user_before)
            by_name = {w.username: w for w in workers}
            claims: dict[int, Worker] = {job_id: by_name[name] for job_id, name in result.claims}
            double = len(result.claims) - len(claims)
            statuses = asyncio.run(statuses_http(server, claims))
            missing = count - len(claims) if ids is None else len(set(ids) - set(claims))
            if missing:
                statuses["never handed out"] = missing
            if result.tally.errors:
                print(f"  errors: {dict(result.tally.errors)}")
                print(f"  server log tail:\n{server.log_tail(15)}")
        return Outcome(concurrency, count, result, double, statuses, used, delivery, user_side)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument(
        "--pool-size", type=int, default=None, help="JOBCLOUD_DB_POOL_SIZE (default: the server's)"
    )
    parser.add_argument("--no-scheduler", action="store_true")
    parser.add_argument(
        "--user-api",
        action="store_true",
        help="forward every status to a user-API stub, the scheduler in its own process",
    )
    parser.add_argument(
        "--no-user-side",
        action="store_true",
        help="JOBCLOUD_USER_API=0: the queue alone, no status outbox (default: the embedded"
        " default, every status applied to the user side's jobs in-process)",
    )
    parser.add_argument(
        "--via-user-api",
        action="store_true",
        help="the embedded default as users use it: jobs submitted with POST /jobs on the user"
        " API (`serve --api both`), so every status is applied to a user's job in-process",
    )
    parser.add_argument(
        "--scheduler-process",
        action="store_true",
        help="`serve --no-scheduler` and a `jobcloud scheduler` process beside it (as --user-api)",
    )
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per C")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    print(
        f"pull cycle on {args.db}: {args.jobs} jobs, server workers {args.server_workers}, "
        f"pool {args.pool_size or 'default'}, client processes {args.client_processes}",
        flush=True,
    )
    outcomes = [run_one(args, c) for c in levels]
    print("\nlatencies in ms; errors = non-2xx or broken; double = ids handed out twice;")
    print("unfin = jobs not `finished` afterwards (checked with GET /jobs/{id}/status)")
    print(HEADER)
    for outcome in outcomes:
        print(outcome.row())
    print("\nCPU seconds per wall second during the cycle (2 cores = 2.00):")
    for outcome in outcomes:
        statuses = dict(Counter(outcome.statuses))
        print(
            f"  C={outcome.concurrency}: {outcome.cpu.describe(outcome.result.wall_s)}; "
            f"statuses {statuses}" + ("; TIMED OUT" if outcome.result.timed_out else "")
        )
    for outcome in outcomes:
        if (row := outcome.user_side_row()) is not None:
            print(f"  C={outcome.concurrency} user side: {row}")
        if outcome.delivery is not None:
            print(f"  C={outcome.concurrency} delivery: {outcome.delivery.row()}")


if __name__ == "__main__":
    main()
