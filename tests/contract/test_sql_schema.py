"""Migrations match the tables, upgrades are safe to repeat and race, leadership is exclusive."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from adapters.sql.leader import LOCK_KEY, Leadership
from adapters.sql.migrate import schema_drift, upgrade
from adapters.sql.url import async_url
from tests.contract.sql_support import sql_engine

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# SQLite does not reflect the DESC of an index column: alembic sees these two as changed.
_SQLITE_UNREFLECTABLE = {"ix_jobs_queued_claim_order", "ix_jobs_queued_group_claim_order"}


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_the_migrations_build_exactly_the_tables_of_the_code(
    backend: str, tmp_path: Path
) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        await upgrade(engine)  # a second upgrade is a no-op
        await asyncio.gather(upgrade(engine), upgrade(engine))
        async with engine.connect() as connection:
            drift = await connection.run_sync(schema_drift)
    if backend == "sqlite":
        drift = [
            d for d in drift if not (d[0].endswith("_index") and d[1].name in _SQLITE_UNREFLECTABLE)
        ]
    assert drift == []


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_one_scheduler_leads_at_a_time(backend: str, tmp_path: Path) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        first, second = Leadership(engine), Leadership(engine)
        assert await first.try_acquire()
        assert await first.try_acquire()  # still leading
        assert await second.try_acquire() is (backend == "sqlite")
        await first.release()
        assert await second.try_acquire()
        await second.release()


@pytest.mark.postgres
async def test_the_leader_holds_no_transaction_open(tmp_path: Path) -> None:
    """An idle transaction would hold back PostgreSQL's xmin horizon: dead queue rows could
    not be pruned, and every claim would wade through them (claims slowed tenfold)."""
    async with sql_engine("postgres", tmp_path) as engine:
        leader = Leadership(engine)
        assert await leader.try_acquire()
        assert await leader.try_acquire()  # the re-check runs a statement too
        async with engine.connect() as connection:
            states = (
                (
                    await connection.execute(
                        text(
                            "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                            " WHERE l.locktype = 'advisory' AND l.objid = :low"
                        ),
                        {"low": LOCK_KEY & 0xFFFFFFFF},
                    )
                )
                .scalars()
                .all()
            )
        await leader.release()
    assert states == ["idle"]


@pytest.mark.parametrize(
    ("url", "secret", "expected"),
    [
        ("sqlite:///./q.db", None, "sqlite+aiosqlite:///./q.db"),
        ("sqlite:////abs/q.db", None, "sqlite+aiosqlite:////abs/q.db"),
        (
            "postgresql://u:{}@db:5432/q",
            "p@ss/w:rd",
            "postgresql+asyncpg://u:p%40ss%2Fw%3Ard@db:5432/q",
        ),
        ("postgres://u@db/q", None, "postgresql+asyncpg://u@db/q"),
        ("postgresql+psycopg2://u:pw@db/q", None, "postgresql+asyncpg://u:pw@db/q"),
    ],
)
def test_decode_style_urls_get_an_async_driver(url: str, secret: str | None, expected: str) -> None:
    assert async_url(url, secret) == expected


@pytest.mark.parametrize(
    ("url", "message"), [("mysql://x/db", "scheme"), ("postgresql://u:{}@h/d", "secret")]
)
def test_bad_urls_are_refused_clearly(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        async_url(url)
