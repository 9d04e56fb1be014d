"""Jobs submitted the way users submit them on the embedded default: POST /jobs on the user API
(`serve --api both`), so every status change is applied to a user's job in-process; and the
wait until the user side shows every job `finished`."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from benchmarks.harness import HOST, Backend, Server, count_rows
from benchmarks.loadgen import Connection

CATALOGUE = """\
bench:
  v1:
    fit:
      app:
        cmd: ["decode", "fit"]
      handler:
        image_url: "registry.example/decode:0.10.1"
        files_down: {config_id: config, data_ids: data, artifact_ids: model}
        files_up: {output: out, log: log}
"""


def user_side_env(data_dir: Path) -> dict[str, str]:
    """What `serve --api both` needs to take submissions: a catalogue."""
    path = data_dir / "applications.yaml"
    path.write_text(CATALOGUE)
    return {"APPLICATION_CONFIG_FILE": str(path)}


def submission(n: int) -> bytes:
    return json.dumps(
        {
            "job_name": f"bench-{n}",
            "environment": "any",
            "priority": n % 6,
            "application": {"application": "bench", "version": "v1", "entrypoint": "fit"},
            "attributes": {
                "files_down": {"config_id": None, "data_ids": None, "artifact_ids": None},
                "env_vars": {},
            },
            "hardware": None,
        }
    ).encode()


async def submit_http(server: Server, count: int, connections: int = 16) -> int:
    """POST /jobs on the user API `count` times (one user); how many were created."""
    from adapters.auth.local import LocalIssuer

    token = LocalIssuer(server.backend.data_dir).mint("bench-user", ["users"], 3600)
    counter = iter(range(count))
    created = 0

    async def one_connection() -> None:
        nonlocal created
        headers = {"authorization": f"Bearer {token}"}
        conn = Connection(HOST, server.user_port, headers)
        for n in counter:
            response = await conn.request("POST", "/jobs", submission(n))
            if response.status != 201:
                raise RuntimeError(f"POST /jobs: {response.status} {response.body[:300]!r}")
            created += 1
        await conn.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return created


_FINISHED = "SELECT count(*) FROM user_jobs WHERE status = 'finished'"


def wait_user_side(backend: Backend, jobs: int, timeout_s: float = 60.0) -> tuple[int, int]:
    """Poll until the user side shows `jobs` finished: (how many it shows, perf_counter_ns
    when it did, or when the wait gave up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        done = asyncio.run(count_rows(backend, _FINISHED))
        if done >= jobs or time.monotonic() >= deadline:
            return done, time.perf_counter_ns()
        time.sleep(0.05)
