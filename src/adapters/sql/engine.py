"""Engines and sessions: SQLite (WAL, busy timeout) or PostgreSQL (small pool, short waits)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from adapters.sql.errors import latch_of, name_database, outage_cause
from domain.errors import Unavailable


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    server_settings: dict[str, str] | None = None,
    variable: str = "QUEUE_DB_URL",
) -> AsyncEngine:
    """An async engine for an async URL (see `adapters.sql.url.async_url`).

    `server_settings`: extra PostgreSQL session settings (e.g. a `search_path`).
    `variable`: the setting the URL came from, named when the database is unavailable."""
    engine = _engine(url, pool_size, server_settings)
    name_database(engine, variable)
    return engine


def _engine(url: str, pool_size: int, server_settings: dict[str, str] | None) -> AsyncEngine:
    if url.startswith("sqlite"):
        sizing = {} if ":memory:" in url else {"pool_size": pool_size, "max_overflow": 0}
        engine = _create_async_engine(url, **sizing)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return _create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # Off the hot path now (that runs on its own asyncpg pool): a round trip per checkout
        # is cheap insurance that a restarted database costs no request a 503.
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "jit": "off",  # short OLTP statements: JIT only adds latency
                "lock_timeout": "5s",
                # A process frozen inside a transaction must not hold its locks for ever
                # (the scheduler's leader lease among them: see `adapters.sql.leader`).
                "idle_in_transaction_session_timeout": "5s",
                "application_name": "jobcloud",
                **(server_settings or {}),
            }
        },
    )


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# A check run first in a transaction (the scheduler's leader lease: `adapters.sql.leader`).
Fence = Callable[[AsyncConnection], Awaitable[None]]


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, fence: Fence | None = None
) -> AsyncIterator[AsyncConnection]:
    """One transaction on a Core connection, opened by `fence` when given; database refusals
    (unreachable, misnamed, the role refused, ...) become StoreUnavailable, each outage logged
    once (`OutageLatch`)."""
    outage = latch_of(engine)
    try:
        async with engine.begin() as connection:
            if fence is not None:
                await fence(connection)
            yield connection
    except Exception as exc:
        cause = outage_cause(exc)
        if cause is None:
            raise
        raise outage.refused(cause) from exc
    if outage.down:
        outage.answered()


@asynccontextmanager
async def guarded_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`transaction` (an outage: StoreUnavailable, logged once), with any other failure of
    the database itself (a connection lost mid-statement, a timeout) as Unavailable: a 503,
    never a 500. The user side's stores open their transactions with it."""
    try:
        async with transaction(engine) as connection:
            yield connection
    except (OperationalError, InterfaceError, OSError, TimeoutError) as exc:
        raise Unavailable(f"database unavailable: {type(exc).__name__}") from exc
