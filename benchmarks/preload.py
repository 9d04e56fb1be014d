"""Bulk-load queued jobs straight into a migrated queue database (HTTP is too slow for 1M).

Priorities 0-9, creation times spread over 30 days, one job in ten pinned to the cloud (so a
local worker must skip it): the claim has to use its index, not luck.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from adapters.sql.codec import new_job_row
from adapters.sql.engine import create_engine
from adapters.sql.tables import jobs
from adapters.sql.url import async_url
from benchmarks.harness import Backend
from domain.jobs import App, Environment, Handler, JobSpec, Meta, NewJob, UploadPaths

SPAN_S = 30 * 24 * 3600

_PG_PRELOAD = """
INSERT INTO jobs (status, environment, job_group, priority, cpu_cores, memory, gpu_model,
                  gpu_archi, gpu_mem, created_at, updated_at, worker, last_seen, attempts,
                  runtime_details, version, user_job_id, spec, paths_upload)
SELECT 'queued', CASE WHEN g % 10 = 0 THEN 'cloud' END, NULL, g % 10, NULL, 1000, NULL,
       NULL, NULL, now() - make_interval(secs => (g::bigint * 7919) % $2), now(), NULL, NULL, 0,
       NULL, 0, g,
       jsonb_build_object(
         'app', jsonb_build_object('cmd', jsonb_build_array('decode', 'fit'), 'env', NULL),
         'handler', jsonb_build_object('image_url', 'registry/decode:1', 'files_down', NULL,
                                       'files_up', NULL),
         'meta', jsonb_build_object('job_id', g, 'date_created', '2026-11-22T00:00:00',
                                    'extra', '{}'::jsonb)),
       jsonb_build_object('output', 'u/' || g || '/out', 'log', 'u/' || g || '/log',
                          'artifact', 'u/' || g || '/art')
FROM generate_series(1, $1) AS g
"""


def preload(backend: Backend, depth: int) -> None:
    if backend.pg_name:
        asyncio.run(_postgres(backend, depth))
    else:
        asyncio.run(_sqlite(backend, depth))


async def _postgres(backend: Backend, depth: int) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(backend.asyncpg_url)
    try:
        await conn.execute(_PG_PRELOAD, depth, SPAN_S)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _sqlite(backend: Backend, depth: int, batch: int = 20_000) -> None:
    engine = create_engine(async_url(backend.url))
    now = datetime.now(UTC)
    try:
        for start in range(0, depth, batch):
            rows = [_row(n, now) for n in range(start, min(depth, start + batch))]
            async with engine.begin() as connection:
                await connection.execute(jobs.insert(), rows)
    finally:
        await engine.dispose()


def _row(n: int, now: datetime) -> dict[str, object]:
    spec = JobSpec(App(("decode", "fit")), Handler("registry/decode:1"), Meta(n, "2026-11-22"))
    new = NewJob(
        spec,
        UploadPaths(f"u/{n}/out", f"u/{n}/log", f"u/{n}/art"),
        environment=Environment.CLOUD if n % 10 == 0 else None,
        priority=n % 10,
    )
    return new_job_row(new, now - timedelta(seconds=(n * 7919) % SPAN_S))
