"""PostgreSQL's own ceiling for one statement per call: jobcloud's three hot statements per
job, driven by pgbench (a C client, no Python, no HTTP) on a fresh, migrated database.

    uv run python -m benchmarks.db_ceiling [--jobs 200000] [--concurrency 8,64] [--seconds 10]

Each pgbench transaction is one job: the claim, then the `running` and `finished` reports,
each its own statement and commit as in a lone call to the server (`adapters/sql/postgres.py`,
compiled from the very statements the server prepares, with the same session settings). Also
printed, for scale: pgbench's built-in `simple-update` (one small transaction of three
statements) on the same machine. A server that sends one statement per call cannot go faster
than this figure; under load, ours batches concurrent calls (`adapters/sql/batch.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from adapters.sql.engine import create_engine
from adapters.sql.migrate import upgrade
from adapters.sql.pg_statements import Prepared, prepared_claims, prepared_reports
from adapters.sql.url import async_url
from benchmarks.harness import Backend, fresh_backend
from benchmarks.preload import preload
from domain.jobs import Report, Status

_SESSION = "-c plan_cache_mode=force_generic_plan -c jit=off"


def _sql(statement: Prepared, values: dict[str, str]) -> str:
    """The statement with each parameter replaced by a pgbench expression."""

    def value(match: re.Match[str]) -> str:
        name = statement.names[int(match.group(1)) - 1]
        if name in values:
            return values[name]
        constant: Any = statement.constants[name]
        return f"'{constant}'" if isinstance(constant, str) else str(constant)

    return re.sub(r"\$(\d+)", value, statement.sql).replace("\n", " ")


def job_script() -> str:
    worker = "('bench-' || :client_id)"
    claim = _sql(
        prepared_claims(True, False, False),  # a batch of one, as for a lone pull
        {
            "p_workers": f"ARRAY[{worker}]",
            "p_wanted": "ARRAY[1]",
            "p_now": "now()",
            "p_cutoff": "now()",
            "p_environment": "'local'",
            "p_memory": "64000",
            "p_limit": "1",
            **dict.fromkeys(["p_cpu_cores", "p_gpu_mem", "p_gpu_model", "p_gpu_archi"], "NULL"),
        },
    ).replace("SELECT claimed.id,", "SELECT claimed.id AS job_id,", 1)
    reports = []
    for status in (Status.RUNNING, Status.FINISHED):
        accepted = Report(0, "", status, datetime.now(UTC)).accepted_from
        reports.append(
            _sql(
                prepared_reports(False),  # a batch of one, as the server sends a lone report
                {
                    "p_id": "ARRAY[:job_id]",
                    "p_worker": f"ARRAY[{worker}]",
                    "p_from": "ARRAY['" + ",".join(s.value for s in accepted) + "']",
                    "p_status": f"ARRAY['{status.value}']",
                    "p_now": "ARRAY[now()]",
                    "p_details": "ARRAY[NULL]",
                },
            )
        )
    return f"{claim}\n\\gset\n{reports[0]};\n{reports[1]};\n"


def pgbench(backend: Backend, script: list[str], clients: int, seconds: int) -> float:
    url = urlsplit(backend.asyncpg_url)
    command = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2"]
    command += ["-T", str(seconds), "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    command += ["-U", url.username or "postgres", *script, url.path.lstrip("/")]
    env = {**os.environ, "PGOPTIONS": _SESSION}
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"no tps in pgbench output:\n{out}")
    return float(found.group(1))


async def _migrate(backend: Backend) -> None:
    engine = create_engine(async_url(backend.url), pool_size=1)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200_000, help="queued jobs to start with")
    parser.add_argument("--concurrency", default="8,64")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("pgbench") is None:
        sys.exit("pgbench not found: it comes with PostgreSQL's client programs")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "job.sql"
        script.write_text(job_script())
        print(f"PostgreSQL alone, pgbench -M prepared, {args.seconds} s per figure")
        for clients in (int(c) for c in args.concurrency.split(",")):
            with fresh_backend("postgres") as backend:
                asyncio.run(_migrate(backend))
                preload(backend, args.jobs)
                jobs = pgbench(backend, ["-f", str(script)], clients, args.seconds)
            with fresh_backend("postgres") as backend:
                url = urlsplit(backend.asyncpg_url)
                init = ["pgbench", "-i", "-q", "-s", "10", "-h", url.hostname or "127.0.0.1"]
                init += ["-U", url.username or "postgres", url.path.lstrip("/")]
                subprocess.run(init, capture_output=True, check=True)
                simple = pgbench(backend, ["-b", "simple-update"], clients, args.seconds)
            print(
                f"  C={clients:>3}: {jobs:7.0f} jobs/s ({3 * jobs:6.0f} commits/s) with our "
                f"statements; simple-update {simple:7.0f} transactions/s"
            )


if __name__ == "__main__":
    main()
