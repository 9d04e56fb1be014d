"""What a failed statement of a batch means: an outage (503, not worth retrying member by
member), a value the database refused (422: one member's fault), or a bug (500).

Read by the batched PostgreSQL hot path (`adapters.sql.postgres`): a batch statement that
fails for a reason one member can cause is split until only that member fails
(`batch.each_alone`). Outages are decided where every database refusal is
(`adapters.sql.errors.outage_cause`).
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from adapters.sql.batch import Failed
from adapters.sql.errors import describe, outage_cause
from domain.errors import InvalidInput, StoreUnavailable, Unavailable

BUSY = frozenset({"55P03"})  # lock_not_available: a row busy past lock_timeout
# Raised by asyncpg while encoding an argument (e.g. an integer beyond the column's width):
# the value's fault, not the connection's, although it is an InterfaceError.
BAD_ARGUMENT = (asyncpg.exceptions._base.DataError, OverflowError)
DATA_EXCEPTION_CLASS = "22"  # numeric out of range, NUL in text, string too long, ...


def is_outage(exc: Exception) -> bool:
    """The database or the connection failed (or a row stayed busy), not one statement's
    values."""
    if isinstance(exc, BAD_ARGUMENT):
        return False
    return outage_cause(exc) is not None or getattr(exc, "sqlstate", None) in BUSY


def item_can_cause(exc: Exception) -> bool:
    """Worth splitting a failed batch for: an error one member's values could cause."""
    return not is_outage(exc)


def as_domain(outcome: Failed) -> Failed:
    """What the caller of a failed member gets: 503 for an outage, 422 for a value the
    database refused, else the error as it is (a bug: 500)."""
    exc = outcome.error
    if is_outage(exc):
        cause = outage_cause(exc)
        if cause is not None:
            return Failed(StoreUnavailable(f"database unavailable: {describe(cause)}"))
        return Failed(Unavailable(f"database busy: {type(exc).__name__}"))
    if isinstance(exc, BAD_ARGUMENT) or (
        isinstance(exc, asyncpg.PostgresError) and exc.sqlstate[:2] == DATA_EXCEPTION_CLASS
    ):
        return Failed(InvalidInput(f"a value was refused by the database: {exc}"))
    return outcome
