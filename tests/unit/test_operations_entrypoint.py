"""The operator-facing pieces without I/O: the banner, help texts, what counts as a database
refusal, and the outage latch's one line per outage."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from adapters.sql.errors import OutageLatch, outage_cause
from domain.errors import StoreUnavailable
from entrypoints.cli import main
from entrypoints.serve import ServeOptions, banner, safe_url
from entrypoints.settings import load_settings


def options(key_from_file: bool) -> ServeOptions:
    return ServeOptions("127.0.0.1", 8001, 1, True, key_from_file)


def test_the_banner_names_the_key_file_only_when_the_key_is_in_it(tmp_path: Path) -> None:
    settings = load_settings({"JOBCLOUD_DATA_DIR": str(tmp_path)})
    generated = "\n".join(banner(settings, options(key_from_file=True)))
    assert str(tmp_path / "internal-api-key") in generated
    given = "\n".join(banner(settings, options(key_from_file=False)))
    assert "internal-api-key" not in given
    assert "INTERNAL_API_KEY_SECRET" in given


def test_the_banner_hides_the_database_password(tmp_path: Path) -> None:
    settings = load_settings(
        {"JOBCLOUD_DATA_DIR": str(tmp_path), "QUEUE_DB_URL": "postgresql://q:pw1@db:5432/q"}
    )
    text = "\n".join(banner(settings, options(key_from_file=False)))
    assert "pw1" not in text
    assert safe_url("postgresql://q:pw1@db:5432/q") in text


@pytest.mark.parametrize(
    ("argv", "defaults"),
    [
        (["serve", "--help"], ["127.0.0.1", "8001", "(default: 1)", "./jobcloud-data"]),
        (["token", "--help"], ["604800"]),
    ],
)
def test_help_shows_every_default(
    argv: list[str], defaults: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for default in defaults:
        assert default in text
    for line in text.split("  --")[1:]:
        assert "default" in line, line


def sqlite_error(message: str, kind: type[Exception], orig: type[Exception]) -> Exception:
    return kind("SELECT 1", {}, orig(message))  # type: ignore[call-arg]


def test_what_counts_as_a_database_refusal() -> None:
    assert outage_cause(ConnectionRefusedError(111, "refused")) is not None
    assert outage_cause(
        sqlite_error("unable to open database file", OperationalError, sqlite3.OperationalError)
    )
    assert (
        outage_cause(
            sqlite_error("UNIQUE constraint failed", IntegrityError, sqlite3.IntegrityError)
        )
        is None
    )
    assert outage_cause(ValueError("a bug")) is None


def test_one_log_line_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    latch = OutageLatch()
    with caplog.at_level(logging.WARNING, logger="jobcloud.database"):
        errors = [latch.refused(ConnectionRefusedError(111, "refused")) for _ in range(5)]
        latch.answered()
        latch.answered()
    assert all(isinstance(e, StoreUnavailable) for e in errors)
    assert "ConnectionRefusedError" in str(errors[0])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "unavailable" in lines[0]
    assert "reachable again" in lines[1]
    assert "5 calls refused" in lines[1]
