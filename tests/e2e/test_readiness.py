"""Readiness follows the database; a dependency outage is a 503, never a 500."""

from __future__ import annotations

import gc

import pytest
from dishka import Provider, Scope, provide
from litestar.testing import AsyncTestClient

from domain.errors import Unavailable
from domain.ports import Health, JobStore
from entrypoints.http.app import create_app
from entrypoints.http.ioc import make_http_container
from entrypoints.settings import Settings
from tests.conftest import TokenFactory
from tests.fakes.store import InMemoryJobStore


class DownStore(InMemoryJobStore):
    async def ping(self) -> None:
        raise Unavailable("database unavailable: ConnectionRefusedError")

    async def claim(self, *args: object, **kwargs: object) -> list:  # type: ignore[override]
        raise Unavailable("database unavailable: ConnectionRefusedError")


class DownStoreProvider(Provider):
    @provide(scope=Scope.APP, override=True)
    def store(self) -> JobStore:
        return DownStore()

    @provide(scope=Scope.APP, override=True)
    def health(self) -> Health:
        return DownStore()


async def test_ready_is_503_while_the_database_is_down(
    settings: Settings, auth: TokenFactory
) -> None:
    app = create_app(settings, container=make_http_container(settings, DownStoreProvider()))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/health")).status_code == 200
        ready = await client.get("/ready")
        assert ready.status_code == 503
        pull = await client.get("/jobs", headers=auth())
        assert pull.status_code == 503
        assert "ConnectionRefused" in pull.json()["detail"]


@pytest.mark.parametrize("freeze", [True, False])
async def test_only_the_server_process_app_freezes_the_collector(
    settings: Settings, freeze: bool
) -> None:
    gc.unfreeze()
    try:
        app = create_app(settings, run_scheduler=False, freeze_gc=freeze)
        async with AsyncTestClient(app) as client:
            assert (await client.get("/health")).status_code == 200
            assert (gc.get_freeze_count() > 0) is freeze
    finally:
        gc.unfreeze()
