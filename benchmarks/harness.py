"""What every benchmark needs: a fresh database, a server process, tokens, a preloaded queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.loadgen import Connection, HttpError
from benchmarks.swarm import Worker

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
HOST = "127.0.0.1"


@dataclass
class Backend:
    """A fresh queue database: its own PostgreSQL database or SQLite file in the data dir."""

    kind: str  # "postgres" | "sqlite"
    data_dir: Path
    url: str  # what QUEUE_DB_URL gets
    pg_name: str | None = None

    @property
    def asyncpg_url(self) -> str:
        return self.url.replace("postgresql+asyncpg://", "postgresql://")

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "queue.db"


@contextlib.contextmanager
def fresh_backend(kind: str) -> Iterator[Backend]:
    """A temp data dir and (for postgres) a database `jobcloud_bench_<random>`, dropped after."""
    data_dir = Path(tempfile.mkdtemp(prefix="jobcloud-bench-"))
    try:
        if kind == "sqlite":
            yield Backend(kind, data_dir, f"sqlite:///{data_dir / 'queue.db'}")
            return
        name = f"jobcloud_bench_{secrets.token_hex(4)}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        try:
            yield Backend(kind, data_dir, f"{base}/{name}", pg_name=name)
        finally:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def _pg_admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def count_rows(backend: Backend, query: str) -> int:
    """`query` (a SELECT count(*) ...) on the backend's database, from outside the server."""
    if backend.kind == "sqlite":
        import sqlite3

        with contextlib.closing(sqlite3.connect(backend.sqlite_path, timeout=30)) as db:
            return int(db.execute(query).fetchone()[0])
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(backend.asyncpg_url)
    try:
        return int(await connection.fetchval(query))
    finally:
        await connection.close()


async def analyze(backend: Backend) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(backend.asyncpg_url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """`jobcloud serve` in its own process group; stopped (SIGINT, then SIGKILL) on exit."""

    backend: Backend
    server_workers: int = 1
    pool_size: int | None = None  # None: the server's default for the database
    scheduler: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    api: str = "worker"  # `serve --api`: "user" serves the user-facing API (and the porch API)
    user_port: int = 0  # with api="both": the user API's port

    def env(self) -> dict[str, str]:
        outside = ("USERFACING_API_URL", "COGNITO_USER_POOL_ID", "JWT_JWKS_URL")
        return {
            **{k: v for k, v in os.environ.items() if k not in outside},
            "JOBCLOUD_DATA_DIR": str(self.backend.data_dir),
            "QUEUE_DB_URL": self.backend.url,
            "INTERNAL_API_KEY_SECRET": self.api_key,
            **({"JOBCLOUD_DB_POOL_SIZE": str(self.pool_size)} if self.pool_size else {}),
            "TIMEOUT_FAILURE": "3600",  # no lease may expire during a run
            **self.extra_env,  # e.g. the user-API stub's USERFACING_API_URL
        }

    def start(self, timeout_s: float = 60.0) -> Server:
        self.port = free_port()
        exe = Path(sys.executable).with_name("jobcloud")
        port_option = "--user-port" if self.api == "user" else "--port"
        args = [str(exe), "serve", "--api", self.api, "--host", HOST, port_option, str(self.port)]
        if self.api == "both":  # the worker API on `port`, the user API on `user_port`
            self.user_port = free_port()
            args += ["--user-port", str(self.user_port)]
        args += ["--data-dir", str(self.backend.data_dir), "--workers", str(self.server_workers)]
        if not self.scheduler:
            args.append("--no-scheduler")
        name = "server.log" if self.api == "worker" else f"server-{self.api}.log"
        self.log_path = self.backend.data_dir / name
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                args, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        asyncio.run(self._wait_ready(timeout_s))
        return self

    async def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        waiting = [port for port in (self.port, self.user_port) if port]
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError, HttpError):
                conn = Connection(HOST, waiting[0])
                response = await conn.request("GET", "/ready")
                await conn.close()
                if response.status == 200:
                    waiting.pop(0)
                    if not waiting:
                        return
                    continue
            await asyncio.sleep(0.2)
        raise RuntimeError(f"server not ready in {timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = self.process.pid  # its own session: the group holds only what it started
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mint_workers(data_dir: Path, count: int, prefix: str = "bench") -> list[Worker]:
    """`count` workers, each with its own username and a token of the local issuer."""
    from adapters.auth.local import LocalIssuer

    issuer = LocalIssuer(data_dir)
    run = secrets.token_hex(3)
    names = [f"{prefix}-{run}-{i}" for i in range(count)]
    return [Worker(name, issuer.mint(name, ["workers"], 3600)) for name in names]


def job_document(user_job_id: int, priority: int = 5) -> dict[str, object]:
    """A submission like the DECODE user API's (see tests/e2e/jobs.py::submitted)."""
    paths = {kind: f"alice/jobs/{user_job_id}/{kind}" for kind in ("output", "log", "artifact")}
    return {
        "job": {
            "app": {"cmd": ["decode", "fit"], "env": {"SEED": "1"}},
            "handler": {
                "image_url": "registry.example/decode:0.10",
                "files_down": {},
                "files_up": {"output": "out", "log": "log", "artifact": "art"},
            },
            "meta": {"job_id": user_job_id, "date_created": "2026-11-22T10:00:00", "user": "alice"},
            "hardware": {},
        },
        "environment": None,
        "group": None,
        "priority": priority,
        "paths_upload": paths,
    }


async def enqueue_http(server: Server, count: int, connections: int = 16) -> list[int]:
    """POST /_jobs `count` times over a few keep-alive connections; the queue's ids."""
    ids: list[int] = []
    counter = iter(range(count))

    async def one_connection() -> None:
        conn = Connection(HOST, server.port, {"x-api-key": server.api_key})
        for n in counter:
            body = json.dumps(job_document(n, priority=n % 10)).encode()
            response = await conn.request("POST", "/_jobs", body)
            if response.status != 201:
                raise RuntimeError(f"POST /_jobs: {response.status} {response.body[:300]!r}")
            ids.append(int(json.loads(response.body)["id"]))
        await conn.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return ids


async def statuses_http(
    server: Server, claims: dict[int, Worker], connections: int = 16
) -> dict[str, int]:
    """GET /jobs/{id}/status for every claimed job with its worker's token; status -> count."""
    by_worker: dict[str, tuple[Worker, list[int]]] = {}
    for job_id, worker in claims.items():
        by_worker.setdefault(worker.username, (worker, []))[1].append(job_id)
    pending = iter(by_worker.values())
    counts: dict[str, int] = {}

    async def one_connection() -> None:
        for worker, job_ids in pending:
            conn = Connection(HOST, server.port, {"Authorization": f"Bearer {worker.token}"})
            for job_id in job_ids:
                response = await conn.request("GET", f"/jobs/{job_id}/status")
                ok = response.status == 200
                key = str(json.loads(response.body)) if ok else f"HTTP {response.status}"
                counts[key] = counts.get(key, 0) + 1
            await conn.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return counts
