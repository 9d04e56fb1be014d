"""A database that goes away under a running server: every refusal is a 503 (never a 500),
and the log says so once per outage, not once per request or scheduler round."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest
from litestar.testing import AsyncTestClient

from adapters.sql.engine import create_engine
from adapters.sql.migrate import upgrade
from adapters.sql.url import async_url
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.conftest import TokenFactory
from tests.contract.sql_support import POSTGRES_URL, require_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, str]]:
    await require_postgres()
    name = f"jobcloud_outage_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield name, f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def admin_execute(statement: str) -> None:
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


async def migrated(url: str) -> None:
    engine = create_engine(async_url(url), pool_size=1)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


class Lines(logging.Handler):
    """What jobcloud's own loggers say (the app's logging set-up replaces the root's
    handlers, so pytest's caplog sees nothing)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        return [self.format(r) for r in self.records if r.levelno >= logging.WARNING]


async def test_a_dropped_database_is_503_and_one_log_line(
    env: dict[str, str],
    database: tuple[str, str],
    auth: TokenFactory,
    internal: dict[str, str],
) -> None:
    name, url = database
    settings = load_settings({**env, "QUEUE_DB_URL": url, "JOBCLOUD_SCHEDULER_INTERVAL": "0.1"})
    app = create_app(settings, run_scheduler=True)  # rounds every 0.1 s, in the app's loop
    async with AsyncTestClient(app) as client:
        assert (await client.get("/ready")).status_code == 200
        log = Lines()
        logging.getLogger("jobcloud").addHandler(log)
        await admin_execute(f'DROP DATABASE "{name}" WITH (FORCE)')

        answers = []
        for _ in range(4):
            answers.append((await client.get("/jobs", headers=auth())).status_code)
            answers.append((await client.get("/ready")).status_code)
            answers.append((await client.get("/jobs/1/status", headers=auth())).status_code)
            answers.append((await client.post("/_jobs", json={}, headers=internal)).status_code)
            await asyncio.sleep(0.2)  # scheduler rounds meanwhile

        assert 500 not in answers
        assert answers.count(503) >= 12, answers
        lines = log.lines()
        assert len(lines) == 1, lines
        assert "QUEUE_DB_URL" in lines[0]
        assert "Traceback" not in lines[0]

        # The database comes back whole: made and migrated apart, then renamed into place
        # (the scheduler's loops would otherwise meet it empty, a different fault).
        await admin_execute(f'CREATE DATABASE "{name}_new"')
        await migrated(url.rsplit("/", 1)[0] + f"/{name}_new")
        await admin_execute(f'ALTER DATABASE "{name}_new" RENAME TO "{name}"')
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        lines = log.lines()
        assert len(lines) == 2, lines
        assert "reachable again" in lines[1]
        logging.getLogger("jobcloud").removeHandler(log)
