"""Fixtures of the user API: its app on the same deployment as the worker app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.auth.local import LocalIssuer
from entrypoints.http.user.app import create_user_app
from entrypoints.http.user.settings import UserSettings
from entrypoints.settings import Settings
from tests.contract.smtp_server import SmtpServer
from tests.e2e.user_support import write_catalogue


@pytest.fixture
def user_settings(tmp_path: Path) -> UserSettings:
    return UserSettings(auth=True, application_config_file=str(write_catalogue(tmp_path)))


@pytest.fixture
def user_app(settings: Settings, user_settings: UserSettings) -> Litestar:
    return create_user_app(settings, user_settings)


@pytest.fixture
async def user_client(user_app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(user_app) as client:
        yield client


@pytest.fixture
def user_auth(settings: Settings):  # type: ignore[no-untyped-def]
    """user_auth("alice") -> headers with a `users` token of the local issuer."""
    issuer = LocalIssuer(settings.data_dir)

    def headers(username: str = "alice", *groups: str) -> dict[str, str]:
        token = issuer.mint(username, list(groups or ("users",)), 3600)
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 for the mails of server processes."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
