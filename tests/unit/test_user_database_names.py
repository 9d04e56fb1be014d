"""The user side opens DATABASE_URL when set, else QUEUE_DB_URL: whatever it says about its
database (start-up refusals, outages while serving, a bad secret) names the variable the
operator actually set."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import transaction
from domain.errors import StoreUnavailable
from entrypoints.bootstrap import prepare
from entrypoints.cli import _upgrade
from entrypoints.http.user.app import own_database
from entrypoints.http.user.settings import load_user_settings
from entrypoints.ioc import make_container
from entrypoints.settings import Settings, SettingsError, load_settings


def unreachable() -> str:
    """A PostgreSQL URL where nothing listens (asyncpg: refused at once, no thread left)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://user:pw@127.0.0.1:{port}/user"


def user_side(tmp_path: Path, **env: str) -> Settings:
    """The user side's settings, built as the user API and `porch-token` build them."""
    queue = load_settings({"JOBCLOUD_DATA_DIR": str(tmp_path)})
    return own_database(queue, load_user_settings(env))


def test_without_database_url_the_user_side_names_queue_db_url(tmp_path: Path) -> None:
    settings = user_side(tmp_path)
    assert settings.db_url_variable == "QUEUE_DB_URL"
    assert settings.db_secret_variable == "QUEUE_DB_SECRET"


def test_with_database_url_the_user_side_names_it(tmp_path: Path) -> None:
    url = unreachable()
    settings = user_side(tmp_path, DATABASE_URL=url)
    assert settings.queue_db_url == url
    assert settings.db_url_variable == "DATABASE_URL"
    assert settings.db_secret_variable == "DATABASE_SECRET"


async def test_a_start_up_refusal_names_database_url(tmp_path: Path) -> None:
    settings = prepare(user_side(tmp_path, DATABASE_URL=unreachable()))
    with pytest.raises(SettingsError) as refused:
        await _upgrade(settings)
    message = str(refused.value)
    assert message.startswith("DATABASE_URL: cannot use the database postgresql:"), message
    assert "QUEUE_DB_URL" not in message


async def test_the_queue_side_still_names_queue_db_url(tmp_path: Path) -> None:
    settings = prepare(
        load_settings({"JOBCLOUD_DATA_DIR": str(tmp_path), "QUEUE_DB_URL": unreachable()})
    )
    with pytest.raises(SettingsError, match=r"^QUEUE_DB_URL: cannot use the database"):
        await _upgrade(settings)


def test_a_bad_database_secret_names_database_secret(tmp_path: Path) -> None:
    settings = user_side(
        tmp_path,
        DATABASE_URL="postgresql://u:{}@127.0.0.1/u",
        DATABASE_SECRET="arn:aws:secretsmanager::malformed",
    )
    with pytest.raises(SettingsError, match=r"^DATABASE_SECRET: malformed Secrets Manager ARN"):
        prepare(settings)


async def test_an_outage_while_serving_names_database_url(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    container = make_container(prepare(user_side(tmp_path, DATABASE_URL=unreachable())))
    try:
        engine = await container.get(AsyncEngine)
        with (
            caplog.at_level(logging.WARNING, logger="jobcloud.database"),
            pytest.raises(StoreUnavailable),
        ):
            async with transaction(engine) as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await container.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "jobcloud.database"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("database (DATABASE_URL) unavailable"), lines[0]
