"""Stores for the contract suite: the in-memory reference, SQLite (a file), PostgreSQL
(a fresh schema per test on JOBCLOUD_TEST_POSTGRES_URL; skipped when unreachable unless
JOBCLOUD_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine
from adapters.sql.events import SqlEventLog, SqlHealth
from adapters.sql.migrate import upgrade
from adapters.sql.outbox import SqlOutbox
from adapters.sql.postgres import postgres_store
from adapters.sql.store import SqlJobStore
from adapters.sql.url import async_url
from domain.ports import EventLog, Health, Outbox
from tests.fakes.store import InMemoryJobStore

POSTGRES_URL = os.environ.get(
    "JOBCLOUD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("JOBCLOUD_REQUIRE_POSTGRES") == "1"
BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def postgres_reachable() -> bool:
    engine = create_engine(async_url(POSTGRES_URL), pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


async def require_postgres() -> None:
    if not await postgres_reachable():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL required but unreachable at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}")


@asynccontextmanager
async def sql_engine(
    backend: str, tmp_path: Path, pool_size: int = 10
) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on a fresh database (SQLite file) or schema (PostgreSQL)."""
    if backend == "sqlite":
        engine = create_engine(async_url(f"sqlite:///{tmp_path / 'queue.db'}"), pool_size=pool_size)
        try:
            await upgrade(engine)
            yield engine
        finally:
            await engine.dispose()
        return
    async with pg_schema() as schema, pg_engine(schema, pool_size) as engine:
        yield engine


@asynccontextmanager
async def pg_schema() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    await require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(async_url(POSTGRES_URL), pool_size=1)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def pg_engine(
    schema: str, pool_size: int = 10, application_name: str = "jobcloud"
) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        async_url(POSTGRES_URL),
        pool_size=pool_size,
        server_settings={"search_path": schema, "application_name": application_name},
    )
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


StoreFactory = Callable[..., Any]


@asynccontextmanager
async def store_for(
    backend: str, tmp_path: Path, *, outbox: bool = True
) -> AsyncIterator[InMemoryJobStore | SqlJobStore]:
    if backend == "memory":
        yield InMemoryJobStore(outbox=outbox)
        return
    if backend == "sqlite":
        async with sql_engine(backend, tmp_path) as engine:
            yield SqlJobStore(engine, outbox=outbox)
        return
    # PostgreSQL: the store the server uses there, its hot path on its own asyncpg pool.
    async with (
        pg_schema() as schema,
        pg_engine(schema) as engine,
        postgres_store(
            engine, size=4, outbox=outbox, server_settings={"search_path": schema}
        ) as store,
    ):
        yield store


def event_log_of(store: Any) -> EventLog:
    """The EventLog beside `store`: the in-memory store is its own; SQL reads the same tables."""
    return store if isinstance(store, InMemoryJobStore) else SqlEventLog(store._engine)


def outbox_of(store: Any) -> Outbox:
    """The Outbox beside `store` (see `event_log_of`)."""
    return store if isinstance(store, InMemoryJobStore) else SqlOutbox(store._engine)


def health_of(store: Any) -> Health:
    """The Health probe beside `store` (see `event_log_of`)."""
    return store if isinstance(store, InMemoryJobStore) else SqlHealth(store._engine)


@asynccontextmanager
async def porch_stores(backend: str, tmp_path: Path) -> AsyncIterator[tuple[Any, Any, Any]]:
    """(JobStore, PipelineStore, TaskStore) on one backend: the tracker's tasks are jobs."""
    from adapters.sql.porch import SqlPipelineStore
    from adapters.sql.porch_postgres import PostgresTaskStore
    from adapters.sql.porch_tasks import SqlTaskStore
    from adapters.sql.postgres import PostgresJobStore
    from tests.fakes.porch import InMemoryPipelineStore, InMemoryTaskStore

    async with store_for(backend, tmp_path) as store:
        if isinstance(store, InMemoryJobStore):
            yield store, InMemoryPipelineStore(), InMemoryTaskStore(store)
        elif isinstance(store, PostgresJobStore):
            tasks = PostgresTaskStore(store._engine, store)
            yield store, SqlPipelineStore(store._engine), tasks
        else:
            yield store, SqlPipelineStore(store._engine), SqlTaskStore(store._engine)


@asynccontextmanager
async def fresh_database(prefix: str = "jobcloud_e2e") -> AsyncIterator[str]:
    """A PostgreSQL database of its own, dropped afterwards: the URL a server gets."""
    await require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
