"""Scheduler leadership: on PostgreSQL an advisory lock held on its own connection, so that
of several schedulers exactly one acts; on SQLite (one machine) every scheduler leads."""

from __future__ import annotations

import contextlib

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.errors import latch_of, outage_cause

LOCK_KEY = 0x6A6F62636C6F7564  # "jobcloud"
_LOCK_KEY_SQL = LOCK_KEY & 0x7FFFFFFFFFFFFFFF


class Leadership:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._outage = latch_of(engine)

    async def try_acquire(self) -> bool:
        """True while this process leads; re-checks the connection that holds the lock."""
        if self._engine.dialect.name != "postgresql":
            return True
        try:
            got = await self._try_acquire()
        except Exception as exc:
            cause = outage_cause(exc)
            if cause is None and not isinstance(exc, DBAPIError):
                raise
            # Logs the outage once (a standby makes no other call). Only the store says when
            # it is over: a lock without the queue's tables is no recovery.
            self._outage.refused(cause or exc)
            await self.release()  # a lost connection lost the lock too
            return False
        return got

    async def _try_acquire(self) -> bool:
        if self._connection is not None:
            await self._connection.execute(text("SELECT 1"))
            return True
        connection = await self._engine.connect()
        # Autocommit: the lock lives in the session, and no transaction may stay open on
        # this long-lived connection (an idle transaction holds back the xmin horizon: no
        # dead row of the queue could be pruned, and every claim would wade through them).
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        got = await connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": _LOCK_KEY_SQL}
        )
        if got:
            self._connection = connection
            return True
        await connection.close()
        return False

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY_SQL}
                )
            with contextlib.suppress(Exception):
                await connection.close()
