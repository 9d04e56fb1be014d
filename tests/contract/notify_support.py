"""Notification outboxes for the contract suite: in-memory, SQLite (a file), PostgreSQL (a
fresh schema). `reopen()` gives a second outbox on the same database over a new engine: a
restarted scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine
from adapters.sql.notifications import SqlNotificationOutbox
from adapters.sql.url import async_url
from domain.notify.ports import NotificationOutbox
from tests.contract.sql_support import POSTGRES_URL, pg_engine, pg_schema, sql_engine
from tests.fakes.notify import InMemoryNotificationOutbox


@dataclass
class OutboxBackend:
    outbox: NotificationOutbox
    engine: AsyncEngine | None  # None for the in-memory outbox
    reopen: Callable[[], Awaitable[NotificationOutbox]]


@asynccontextmanager
async def outbox_for(backend: str, tmp_path: Path) -> AsyncIterator[OutboxBackend]:
    if backend == "memory":
        memory = InMemoryNotificationOutbox()

        async def same() -> NotificationOutbox:
            return memory

        yield OutboxBackend(memory, None, same)
        return
    async with AsyncExitStack() as stack:
        schema: str | None = None
        if backend == "sqlite":
            engine = await stack.enter_async_context(sql_engine("sqlite", tmp_path))
        else:
            schema = await stack.enter_async_context(pg_schema())
            engine = await stack.enter_async_context(pg_engine(schema))

        async def reopen() -> NotificationOutbox:
            fresh = _engine_like(backend, tmp_path, schema)
            stack.push_async_callback(fresh.dispose)
            return SqlNotificationOutbox(fresh)

        yield OutboxBackend(SqlNotificationOutbox(engine), engine, reopen)


def _engine_like(backend: str, tmp_path: Path, schema: str | None) -> AsyncEngine:
    if backend == "sqlite":
        return create_engine(async_url(f"sqlite:///{tmp_path / 'queue.db'}"), pool_size=2)
    settings: dict[str, Any] = {"search_path": schema}
    return create_engine(async_url(POSTGRES_URL), pool_size=2, server_settings=settings)
