"""Scheduler leadership: a lease row in the database, on PostgreSQL and SQLite alike.

Any number of schedulers may run; the one holding the lease acts. The lease expires
`ttl` seconds after its last renewal, measured by the database's clock, and a takeover
bumps the epoch. Every write a scheduler makes starts with `fence`, which checks, in the
write's own transaction, that (holder, epoch) still holds an unexpired lease, and keeps the
row from being taken over until that transaction ends (PostgreSQL: a share lock on the row;
SQLite: the write lock, taken by a no-op update). So a frozen (SIGSTOP) or cut-off scheduler
cannot write once its lease is gone, and its successor never writes beside it.

What a database cannot fence is the HTTP call to the user API: before each one the deliverer
asks `held()`, a local check that the lease was renewed less than `ttl` ago by this
process's monotonic clock (which runs on while a process is stopped). The lease in the
database lives at least as long, so a successor starts only after the old leader stopped
sending: at most the message in flight at that moment is delivered twice.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.engine import transaction
from domain.errors import LostLeadership, Unavailable

DEFAULT_TTL = 5.0  # seconds
_NOW = {
    "postgresql": "CAST(extract(epoch from clock_timestamp()) AS double precision)",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}
_ACQUIRE = """UPDATE scheduler_lease
SET epoch = CASE WHEN holder = :me THEN epoch ELSE epoch + 1 END,
    holder = :me,
    expires_at = {now} + CAST(:ttl AS double precision)
WHERE id = 1 AND (holder = :me OR holder IS NULL OR expires_at < {now})
RETURNING epoch"""
_CREATE = "INSERT INTO scheduler_lease (id, holder, epoch, expires_at) VALUES (1, NULL, 0, 0)"
_FENCE = {
    "postgresql": "SELECT 1 FROM scheduler_lease"
    " WHERE id = 1 AND holder = :me AND epoch = :epoch AND expires_at > {now} FOR SHARE",
    "sqlite": "UPDATE scheduler_lease SET epoch = epoch"
    " WHERE id = 1 AND holder = :me AND epoch = :epoch AND expires_at > {now}",
}
_RELEASE = "UPDATE scheduler_lease SET holder = NULL, expires_at = 0 WHERE id = 1 AND holder = :me"
# The local lease ends this much earlier than the database's (clock rates differ a little).
_SAFETY = 0.9


class LeaderLease:
    """This process's claim to lead; `try_acquire` both takes and renews it."""

    def __init__(self, engine: AsyncEngine, *, ttl: float = DEFAULT_TTL) -> None:
        self._engine = engine
        self._ttl = ttl
        self._dialect = engine.dialect.name
        self._now = _NOW[self._dialect]
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.epoch: int | None = None
        self._valid_until = 0.0

    def held(self) -> bool:
        """Whether this process may act now, by its own clock (no database round trip)."""
        return self.epoch is not None and time.monotonic() < self._valid_until

    def seconds_left(self) -> float:
        return max(0.0, self._valid_until - time.monotonic()) if self.epoch is not None else 0.0

    async def try_acquire(self) -> bool:
        """Take the lease if it is free or expired, or renew it; True while leading."""
        started = time.monotonic()
        try:
            epoch = await self._acquire()
        except Unavailable:
            self.lose()
            return False
        if epoch is None:
            self.lose()
            return False
        self.epoch = int(epoch)
        self._valid_until = started + self._ttl * _SAFETY
        return True

    async def _acquire(self) -> int | None:
        params = {"me": self.holder, "ttl": self._ttl}
        statement = text(_ACQUIRE.format(now=self._now))
        async with transaction(self._engine) as connection:
            epoch = (await connection.execute(statement, params)).scalar_one_or_none()
            if epoch is None and not await _has_row(connection):
                await connection.execute(text(_CREATE))  # a database built without migrations
                epoch = (await connection.execute(statement, params)).scalar_one_or_none()
        return None if epoch is None else int(epoch)

    async def fence(self, connection: AsyncConnection) -> None:
        """The first statement of every scheduler write: LostLeadership unless this
        process still holds the lease; the lease cannot change hands until the write ends."""
        if not self.held():
            raise LostLeadership("the scheduler's leader lease has expired")
        result = await connection.execute(
            text(_FENCE[self._dialect].format(now=self._now)),
            {"me": self.holder, "epoch": self.epoch},
        )
        found = result.rowcount == 1 if self._dialect == "sqlite" else result.first() is not None
        if not found:
            self.lose()
            raise LostLeadership(f"another scheduler took over (epoch {self.epoch} is over)")

    def lose(self) -> None:
        self.epoch = None
        self._valid_until = 0.0

    async def release(self) -> None:
        """Step down at once, so that a standby need not wait for the lease to expire."""
        held, self.epoch = self.epoch, None
        self._valid_until = 0.0
        if held is None:
            return
        with contextlib.suppress(Exception):
            async with transaction(self._engine) as connection:
                await connection.execute(text(_RELEASE), {"me": self.holder})


async def _has_row(connection: AsyncConnection) -> bool:
    found = await connection.scalar(text("SELECT count(*) FROM scheduler_lease WHERE id = 1"))
    return bool(found)
