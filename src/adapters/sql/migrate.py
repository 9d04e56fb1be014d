"""Alembic migrations, applied programmatically (start-up and `jobcloud db upgrade`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.errors import describe, outage_cause
from adapters.sql.tables import metadata
from domain.errors import StoreUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"
_UPGRADE_LOCK = 0x6A6F6263_6D696772  # "jobcmigr": one upgrade at a time across processes


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(_config(connection), "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; safe when several processes start at once.

    StoreUnavailable (its message: the one-line cause) when the database is unreachable,
    misnamed or refuses the role."""
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK}
                )
            await connection.run_sync(_upgrade)
    except Exception as exc:
        cause = outage_cause(exc)
        if cause is None:
            raise
        raise StoreUnavailable(describe(cause)) from exc


def schema_drift(connection: Connection) -> list[Any]:
    """What differs between the migrated database and the tables the code expects."""
    return list(compare_metadata(MigrationContext.configure(connection), metadata))
