"""`adapters.sql.notifications.enqueue` on the caller's transaction (SQLite, PostgreSQL):
the notifications commit, or roll back, with the caller's own writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.sql.notifications import SqlNotificationOutbox, enqueue, forget
from adapters.sql.tables import notifications
from domain.jobs import Status
from domain.notify.model import Channel, JobChange, NotifyPolicy, Recipients
from tests.contract.sql_support import sql_engine

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WHO = Recipients(email="ada@example.org", webhook_url="http://127.0.0.1:9/hook")


@pytest.fixture(params=SQL_BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with sql_engine(str(request.param), tmp_path) as engine:
        yield engine


def change(job_id: int, status: Status = Status.FINISHED) -> JobChange:
    return JobChange(username="ada", job_id=job_id, job_name="fit", status=status)


class Boom(Exception):
    pass


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as c:
        return int(await c.scalar(select(func.count()).select_from(notifications)) or 0)


async def test_on_a_connection_they_commit_with_the_caller(engine: AsyncEngine) -> None:
    async with engine.begin() as tx:
        await tx.execute(text("CREATE TABLE user_jobs_probe (id INTEGER PRIMARY KEY)"))
    async with engine.begin() as tx:
        await tx.execute(text("INSERT INTO user_jobs_probe (id) VALUES (7)"))
        assert await enqueue(tx, change(7), WHO, NotifyPolicy(), now=NOW) == 2
        # A repeat in the same transaction is a no-op and does not abort it (PostgreSQL).
        assert await enqueue(tx, change(7), WHO, NotifyPolicy(), now=NOW) == 0
        await tx.execute(text("INSERT INTO user_jobs_probe (id) VALUES (8)"))
    assert await count(engine) == 2
    states = await SqlNotificationOutbox(engine).states(7)
    assert [s.channel for s in states] == [Channel.EMAIL, Channel.WEBHOOK]


async def test_on_a_connection_they_roll_back_with_the_caller(engine: AsyncEngine) -> None:
    async def change_then_fail() -> None:
        async with engine.begin() as tx:
            assert await enqueue(tx, change(9), WHO, NotifyPolicy(), now=NOW) == 2
            raise Boom

    with pytest.raises(Boom):
        await change_then_fail()
    assert await count(engine) == 0


async def test_on_a_session_too(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        assert await enqueue(session, change(11), WHO, NotifyPolicy(), now=NOW) == 2
        await session.rollback()
    assert await count(engine) == 0
    async with AsyncSession(engine) as session, session.begin():
        assert await enqueue(session, change(11), WHO, NotifyPolicy(), now=NOW) == 2
    assert await count(engine) == 2


async def test_nothing_is_enqueued_for_a_status_that_is_not_due(engine: AsyncEngine) -> None:
    async with engine.begin() as tx:
        assert await enqueue(tx, change(12, Status.RUNNING), WHO, NotifyPolicy(), now=NOW) == 0
        every = NotifyPolicy(statuses=frozenset(Status))
        assert await enqueue(tx, change(12, Status.RUNNING), WHO, every, now=NOW) == 2
    assert await count(engine) == 2


async def test_forget_on_the_callers_transaction(engine: AsyncEngine) -> None:
    async with engine.begin() as tx:
        await enqueue(tx, change(13), WHO, NotifyPolicy(), now=NOW)
        await enqueue(tx, change(14), WHO, NotifyPolicy(), now=NOW)
    async with engine.begin() as tx:
        await forget(tx, 13)
    assert await SqlNotificationOutbox(engine).states(13) == []
    assert await count(engine) == 2
