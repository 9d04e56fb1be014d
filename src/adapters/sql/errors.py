"""Database refusals: which errors mean "the database is unreachable or refuses us" (the
caller may succeed later: a 503, not a bug), and one log line per outage, not one per call.

Raw driver errors reach us as well as SQLAlchemy's wrappers: asyncpg raises its own
exceptions while connecting (a misnamed database, an unknown role), and the operating
system's (refused, unknown host) pass through SQLAlchemy unwrapped.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import weakref

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import StoreUnavailable

log = logging.getLogger("jobcloud.database")

# SQLSTATE classes: 08 connection, 28 authorization (role, password), 3D catalog (no such
# database), 53 insufficient resources, 57 operator intervention (shutdown, terminated).
_OUTAGE_CLASSES = frozenset({"08", "28", "3D", "53", "57"})
_REFUSED = frozenset(
    {
        "42501",  # insufficient_privilege: the role may not do this
        "42P01",  # undefined_table: a database without our tables (dropped and recreated)
    }
)
_DOWN = (
    OSError,  # refused, unreachable, unknown host, timeouts (TimeoutError is an OSError)
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # the connection is closed or was lost
    asyncpg.InternalClientError,  # a statement on a connection the server just terminated
    OperationalError,  # SQLite: unable to open, locked, I/O error; lost connections
    InterfaceError,
    sqlite3.OperationalError,
)


def outage_cause(exc: BaseException) -> BaseException | None:
    """The error in `exc`'s chain that says the database is unreachable or refuses us (down,
    misnamed, wrong role or password, out of connections, shutting down); None otherwise
    (a bug, a constraint: not an outage)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_outage(current):
            return current
        orig = current.orig if isinstance(current, DBAPIError) else None
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        # not 55P03 (a row busy past lock_timeout): that is no outage
        return sqlstate[:2] in _OUTAGE_CLASSES or sqlstate in _REFUSED
    return isinstance(exc, _DOWN)


def _unwrapped(exc: BaseException) -> BaseException:
    """The driver's own error: SQLAlchemy wraps it (`orig`), and its asyncpg adapter wraps
    asyncpg's error once more (as the `__cause__`)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    if type(exc).__module__.startswith("sqlalchemy") and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def describe(exc: BaseException) -> str:
    """`Kind: first line of the message` (never SQLAlchemy's statement or parameters)."""
    exc = _unwrapped(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class OutageLatch:
    """Logs when the database stops answering, and when it answers again: one line each,
    however many calls fail in between (they still fail, each with StoreUnavailable)."""

    def __init__(self, variable: str = "QUEUE_DB_URL") -> None:
        self._what = f"database ({variable})"  # the variable the operator set the URL in
        self._since: float | None = None
        self._refused = 0

    @property
    def down(self) -> bool:
        return self._since is not None

    def refused(self, cause: BaseException) -> StoreUnavailable:
        """Note one refused call (`cause` from `outage_cause`); the error to raise for it."""
        if self._since is None:
            self._since = time.monotonic()
            log.warning(
                "%s unavailable: %s; answering 503 until it is back", self._what, describe(cause)
            )
        self._refused += 1
        return StoreUnavailable(f"database unavailable: {type(_unwrapped(cause)).__name__}")

    def answered(self) -> None:
        """Note a call that reached the database (cheap when it was not down)."""
        if self._since is None:
            return
        log.warning(
            "%s reachable again after %.1f s (%d calls refused meanwhile)",
            self._what,
            time.monotonic() - self._since,
            self._refused,
        )
        self._since = None
        self._refused = 0


_LATCHES: weakref.WeakKeyDictionary[Engine, OutageLatch] = weakref.WeakKeyDictionary()


def name_database(engine: AsyncEngine, variable: str) -> None:
    """Say which variable `engine`'s URL came from (QUEUE_DB_URL, or the user side's
    DATABASE_URL): its outage lines name it. Before any `latch_of` of that engine."""
    _LATCHES[engine.sync_engine] = OutageLatch(variable)


def latch_of(engine: AsyncEngine) -> OutageLatch:
    """The one latch of `engine`'s database in this process: the store, the hot path and
    the scheduler's leadership share it, so an outage is one line, not one per part."""
    latch = _LATCHES.get(engine.sync_engine)
    if latch is None:
        latch = _LATCHES[engine.sync_engine] = OutageLatch()
    return latch
