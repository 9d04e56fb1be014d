"""The NotificationOutbox port on SQL (SQLite or PostgreSQL).

`enqueue(tx, ...)` writes on the caller's own transaction (an AsyncConnection or an
AsyncSession), so a user job's status change and its notifications commit together. The
unique key (job_id, status, channel) turns every repeat into a no-op (INSERT ... ON CONFLICT
DO NOTHING: a repeat never aborts the caller's transaction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from adapters.sql.engine import guarded_transaction
from adapters.sql.tables import PENDING_SQL, notifications
from domain.jobs import Status
from domain.notify.model import (
    Channel,
    JobChange,
    Notification,
    NotificationState,
    NotifyPolicy,
    Recipients,
    State,
    notifications_for,
)

Transaction = AsyncConnection | AsyncSession
_MAX_ERROR = 1000


async def enqueue(
    tx: Transaction,
    change: JobChange,
    recipients: Recipients,
    policy: NotifyPolicy,
    *,
    now: datetime,
) -> int:
    """Enqueue, on the caller's transaction `tx`, the notifications `change` calls for under
    `policy`; how many were new (0 when none is due, or all were enqueued before)."""
    return await insert_notifications(tx, notifications_for(change, recipients, policy), now)


async def insert_notifications(
    tx: Transaction, items: Sequence[Notification], now: datetime
) -> int:
    """One statement for them all; those already there (same key) are left alone."""
    if not items:
        return 0
    statement = _insert_ignore(_dialect(tx)).values([_row(item, now) for item in items])
    result = await tx.execute(statement.returning(notifications.c.id))
    return len(result.all())


async def forget(tx: Transaction, job_id: int) -> None:
    """Drop every notification of a user job, on the caller's transaction: for the deletion
    of the job (nothing more is sent about it, and its keys are free again)."""
    await tx.execute(delete(notifications).where(notifications.c.job_id == job_id))


def _dialect(tx: Transaction) -> str:
    if isinstance(tx, AsyncSession):
        return tx.get_bind().dialect.name
    return tx.dialect.name


def _insert_ignore(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(notifications).on_conflict_do_nothing()
    return sqlite.insert(notifications).on_conflict_do_nothing()


def _row(n: Notification, now: datetime) -> dict[str, Any]:
    c = n.change
    return {
        "job_id": c.job_id,
        "status": c.status.value,
        "channel": n.channel.value,
        "address": n.address,
        "secret": n.secret,
        "username": c.username,
        "job_name": c.job_name,
        "date_created": c.date_created,
        "date_started": c.date_started,
        "date_finished": c.date_finished,
        "runtime_details": c.runtime_details,
        "state": State.PENDING.value,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def _notification(row: Mapping[Any, Any]) -> Notification:
    change = JobChange(
        username=row["username"],
        job_id=row["job_id"],
        job_name=row["job_name"],
        status=Status(row["status"]),
        date_created=row["date_created"],
        date_started=row["date_started"],
        date_finished=row["date_finished"],
        runtime_details=row["runtime_details"],
    )
    return Notification(
        Channel(row["channel"]),
        row["address"],
        change,
        secret=row["secret"],
        id=row["id"],
        attempts=row["attempts"],
    )


class SqlNotificationOutbox:
    """The delivery side; every method is one transaction of its own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def _tx(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return guarded_transaction(self._engine)

    async def enqueue(self, items: Sequence[Notification], now: datetime) -> int:
        async with self._tx() as s:
            return await insert_notifications(s, items, now)

    async def forget(self, job_id: int) -> None:
        async with self._tx() as s:
            await forget(s, job_id)

    async def due(self, now: datetime, limit: int, hold: timedelta) -> list[Notification]:
        """One statement claims them (SKIP LOCKED on PostgreSQL; SQLite serialises writers):
        two deliverers never get the same notification."""
        picked = (
            select(notifications.c.id)
            .where(text(PENDING_SQL), notifications.c.next_attempt_at <= bindparam("p_now"))
            .order_by(notifications.c.next_attempt_at, notifications.c.id)
            .limit(bindparam("p_limit"))
        )
        if self._dialect == "postgresql":
            picked = picked.with_for_update(skip_locked=True)
        statement = (
            update(notifications)
            .where(notifications.c.id.in_(picked.scalar_subquery()))
            .values(next_attempt_at=bindparam("p_until", type_=DateTimeUTC(timezone=True)))
            .returning(*notifications.c)
        )
        params = {"p_now": now, "p_limit": limit, "p_until": now + hold}
        async with self._tx() as s:
            rows = (await s.execute(statement, params)).mappings().all()
        return sorted((_notification(r) for r in rows), key=lambda n: n.id)

    async def delivered(self, notification_id: int, now: datetime) -> None:
        await self._finish(notification_id, state=State.DELIVERED.value, delivered_at=now)

    async def retry_later(self, notification_id: int, at: datetime, error: str) -> None:
        async with self._tx() as s:
            await s.execute(
                update(notifications)
                .where(notifications.c.id == notification_id, text(PENDING_SQL))
                .values(
                    attempts=notifications.c.attempts + 1,
                    next_attempt_at=at,
                    last_error=error[:_MAX_ERROR],
                )
            )

    async def give_up(self, notification_id: int, error: str) -> None:
        await self._finish(
            notification_id,
            state=State.FAILED.value,
            attempts=notifications.c.attempts + 1,
            last_error=error[:_MAX_ERROR],
        )

    async def _finish(self, notification_id: int, **values: Any) -> None:
        async with self._tx() as s:
            await s.execute(
                update(notifications)
                .where(notifications.c.id == notification_id, text(PENDING_SQL))
                .values(**values)
            )

    async def states(self, job_id: int) -> list[NotificationState]:
        statement = (
            select(notifications)
            .where(notifications.c.job_id == job_id)
            .order_by(notifications.c.id)
        )
        async with self._tx() as s:
            rows = (await s.execute(statement)).mappings().all()
        return [
            NotificationState(
                channel=Channel(r["channel"]),
                status=Status(r["status"]),
                state=State(r["state"]),
                attempts=r["attempts"],
                last_error=r["last_error"],
                delivered_at=r["delivered_at"],
            )
            for r in rows
        ]
