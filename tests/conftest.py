"""Shared fixtures: settings for an embedded deployment in a temp folder, the app, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.settings import Settings, load_settings

API_KEY = "test-internal-key"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of an embedded deployment under tmp_path (tests may add to it)."""
    return {
        "JOBCLOUD_DATA_DIR": str(tmp_path / "data"),
        "INTERNAL_API_KEY_SECRET": API_KEY,
        "JOBCLOUD_SCHEDULER": "0",
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(env)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    from entrypoints.http.app import create_app

    return create_app(settings, run_scheduler=False)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as client:
        yield client


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth(settings: Settings) -> TokenFactory:
    """auth("gpu1", "workers", "cloud") -> headers with a bearer token of the local issuer."""
    from adapters.auth.local import LocalIssuer

    issuer = LocalIssuer(settings.data_dir)

    def headers(username: str = "worker-1", *groups: str) -> dict[str, str]:
        token = issuer.mint(username, list(groups or ("workers",)), 3600)
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def internal() -> dict[str, str]:
    return {"x-api-key": API_KEY}
