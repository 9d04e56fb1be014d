"""Migrations match the tables, upgrades are safe to repeat and race, leadership is exclusive."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect, text

from adapters.sql.engine import transaction
from adapters.sql.leader import LeaderLease
from adapters.sql.migrate import MIGRATIONS, schema_drift, upgrade
from adapters.sql.url import async_url
from domain.errors import LostLeadership
from tests.contract.sql_support import pg_engine, pg_schema, sql_engine

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


def _down_to_nothing_and_up_again(connection: Connection) -> list[str]:
    """Every migration's downgrade, newest first; the tables then left; upgrade again."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.downgrade(config, "base")
    left = sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})
    command.upgrade(config, "head")
    return left


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_the_migrations_downgrade_to_nothing_and_upgrade_again(
    backend: str, tmp_path: Path
) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        async with engine.begin() as connection:
            left = await connection.run_sync(_down_to_nothing_and_up_again)
        async with engine.connect() as connection:
            drift = await connection.run_sync(schema_drift)
    assert left == []
    if backend == "sqlite":
        drift = [
            d for d in drift if not (d[0].endswith("_index") and d[1].name in _SQLITE_UNREFLECTABLE)
        ]
    assert drift == []


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_one_scheduler_leads_at_a_time(backend: str, tmp_path: Path) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        first, second = LeaderLease(engine, ttl=0.5), LeaderLease(engine, ttl=0.5)
        assert await first.try_acquire()
        epoch = first.epoch
        assert await first.try_acquire()  # renewed, same epoch
        assert first.epoch == epoch
        assert not await second.try_acquire()
        assert not second.held()
        await first.release()  # stepping down frees it at once
        assert await second.try_acquire()
        assert second.epoch == epoch + 1  # type: ignore[operator]
        await asyncio.sleep(0.6)  # the second stops renewing: its lease runs out
        assert not second.held()
        assert await first.try_acquire()
        assert first.epoch == epoch + 2  # type: ignore[operator]
        await first.release()


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_a_write_fenced_by_a_lost_lease_fails_and_changes_nothing(
    backend: str, tmp_path: Path
) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        old, new = LeaderLease(engine, ttl=0.5), LeaderLease(engine, ttl=5)
        assert await old.try_acquire()
        async with transaction(engine, old.fence) as connection:  # holds: the write goes
            await connection.execute(text("DELETE FROM outbox"))
        # Frozen past its lease: locally it knows, and so does the database.
        await asyncio.sleep(0.6)
        with pytest.raises(LostLeadership):
            async with transaction(engine, old.fence):
                pass
        assert await new.try_acquire()
        old.epoch, old._valid_until = new.epoch - 1, time.monotonic() + 10  # type: ignore[operator]
        with pytest.raises(LostLeadership, match="took over"):  # a stale epoch is refused
            async with transaction(engine, old.fence):
                pass
        await new.release()


@pytest.mark.postgres
async def test_a_takeover_waits_for_the_old_leader_s_write_to_end(tmp_path: Path) -> None:
    async with sql_engine("postgres", tmp_path) as engine:
        old, new = LeaderLease(engine, ttl=0.5), LeaderLease(engine, ttl=5)
        assert await old.try_acquire()
        async with transaction(engine, old.fence):
            await asyncio.sleep(0.6)  # expired meanwhile, but this write began in time
            takeover = asyncio.create_task(new.try_acquire())
            await asyncio.sleep(0.3)
            assert not takeover.done()  # the lease row is locked by the write
        assert await takeover
        await new.release()


@pytest.mark.postgres
async def test_the_leader_holds_no_transaction_open(tmp_path: Path) -> None:
    """An idle transaction would hold back PostgreSQL's xmin horizon: dead queue rows could
    not be pruned, and every claim would wade through them (claims slowed tenfold). Only this
    test's own connections are looked at (other jobclouds may share the server)."""
    name = f"jobcloud-test-{uuid.uuid4().hex[:8]}"
    async with pg_schema() as schema, pg_engine(schema, application_name=name) as engine:
        leader = LeaderLease(engine)
        assert await leader.try_acquire()
        assert await leader.try_acquire()
        async with transaction(engine, leader.fence) as connection:
            await connection.execute(text("SELECT 1"))
        async with engine.connect() as connection:
            states = (
                (
                    await connection.execute(
                        text(
                            "SELECT state FROM pg_stat_activity WHERE datname = current_database()"
                            " AND application_name = :name"
                        ),
                        {"name": name},
                    )
                )
                .scalars()
                .all()
            )
        await leader.release()
    assert "active" in states  # this query: the filter finds our own connections
    assert "idle in transaction" not in states


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
