"""Log levels of the libraries beneath us: their own retries during an outage are ours to
report (once per outage, `adapters.sql.errors.OutageLatch`), not a traceback per second."""

from __future__ import annotations

import logging

QUIET = {
    "alembic": logging.WARNING,  # "Running upgrade ..." at every start-up
    "asyncpg.pool": logging.ERROR,  # "Failed to restore the pool connection floor" + traceback
    "httpx": logging.WARNING,  # a line per request: per delivered status, per JWKS fetch
}


def quiet_libraries() -> None:
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
