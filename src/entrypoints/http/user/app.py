"""The user API's Litestar app: DECODE user API paths, the same error table, its own OpenAPI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
from dishka import AsyncContainer
from dishka.integrations.litestar import DishkaRouter, setup_dishka
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.catalogue.yaml_file import load_catalogue
from adapters.sql.migrate import upgrade
from domain.catalogue.model import CatalogueError
from domain.catalogue.ports import CatalogueSource
from domain.errors import DomainError
from domain.pipelines.operations import SweepTaskLeases
from domain.userjobs.submission import DeliverSubmissions
from entrypoints.bootstrap import prepare
from entrypoints.http.access_log import AccessLog
from entrypoints.http.errors import domain_error_handler, internal_error_handler
from entrypoints.http.ioc import make_http_container
from entrypoints.http.porch import porch_router
from entrypoints.http.user.accounts import AccountsController, UserInternalController
from entrypoints.http.user.files import UserFilesController
from entrypoints.http.user.ioc import (
    RemoteQueueProvider,
    UserProvider,
    catalogue_source,
    user_use_cases,
)
from entrypoints.http.user.jobs import UserJobsController
from entrypoints.http.user.settings import UserSettings, load_user_settings
from entrypoints.notify_loop import notification_loop
from entrypoints.settings import Settings, SettingsError, load_settings
from entrypoints.streaks import Streaks

log = logging.getLogger("jobcloud.user")

OPENAPI = OpenAPIConfig(
    title="jobcloud user API",
    version="0.1.0",
    description="Accounts, files, the application catalogue and jobs; DECODE user API paths.",
    path="/schema",
    components=Components(
        security_schemes={
            "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
            "ApiKey": SecurityScheme(type="apiKey", name="x-api-key", security_scheme_in="header"),
            # the porch API's tokens (npg_porch's): 32 hexadecimal characters
            "PorchToken": SecurityScheme(type="http", scheme="bearer", description="32 hex"),
        }
    ),
)


def check_user_settings(settings: Settings, user_settings: UserSettings) -> None:
    """Start-up checks: one line naming the variable."""
    if user_settings.auth and settings.auth_mode == "oidc":
        raise SettingsError(
            "AUTH: accounts need the local issuer or Cognito (COGNITO_*), not JWT_JWKS_URL"
        )
    source = catalogue_source(user_settings, settings)
    if source is not None:
        try:
            load_catalogue(source)
        except CatalogueError as exc:
            raise SettingsError(f"APPLICATION_CONFIG_FILE: {exc}") from None


def own_database(settings: Settings, user_settings: UserSettings) -> Settings:
    """With DATABASE_URL the user side keeps its jobs and accounts in a database of its own."""
    if not user_settings.database_url:
        return settings
    return msgspec.structs.replace(
        settings,
        queue_db_url=user_settings.database_url,
        queue_db_secret=user_settings.database_secret,
        db_url_variable="DATABASE_URL",
    )


def user_api_id(data_dir: Path) -> str:
    """This user API's name towards the worker API (idempotency keys): made once, kept."""
    path = data_dir / "user-api-id"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(8))
    return path.read_text().strip()


class UserSideLoop:
    """The user side's own scheduler loop, when it keeps a database of its own: deliver the
    submissions to the remote worker API (split topology), and sweep the porch tasks' leases
    (the worker side's scheduler sweeps only its own database). A failure is logged once per
    streak; a database outage is logged by the store, once."""

    def __init__(
        self, container: AsyncContainer, interval: float, *, submissions: bool, porch: bool
    ) -> None:
        self._container = container
        self._interval = interval
        self._parts = {"submission delivery": submissions, "porch lease sweep": porch}
        self._streaks = Streaks(log)
        self._task: asyncio.Task[None] | None = None

    @property
    def needed(self) -> bool:
        return any(self._parts.values())

    async def run(self) -> None:
        async def submissions() -> None:
            deliver = await self._container.get(DeliverSubmissions)  # the split topology's
            while await deliver() > 0:
                pass

        async def porch() -> None:
            sweep = await self._container.get(SweepTaskLeases)
            if swept := await sweep():
                log.info("porch task leases expired: %d back to PENDING", swept)

        rounds = {"submission delivery": submissions, "porch lease sweep": porch}
        while True:
            for name, wanted in self._parts.items():
                if wanted:
                    await self._streaks.run(name, rounds[name])
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="jobcloud-user-side")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


Hook = Callable[[Litestar], Awaitable[None]]


def _lifecycle(
    container: AsyncContainer, settings: Settings, user_settings: UserSettings
) -> tuple[Hook, Hook]:
    """Start-up (migrations, the catalogue, the user side's own loops) and shutdown."""
    split = user_settings.workerfacing_api_url is not None
    side = UserSideLoop(
        container,
        settings.scheduler_interval,
        submissions=split,
        porch=user_settings.database_url is not None,
    )
    loops = contextlib.AsyncExitStack()

    async def start(app: Litestar) -> None:
        engine = await container.get(AsyncEngine)
        await upgrade(engine)
        await container.get(CatalogueSource)
        if side.needed:
            side.start()
        if split:
            # The split topology: this process sends the notifications recorded in its own
            # database (the worker API's scheduler has none of them); on the embedded
            # default that scheduler sends them, and this process does not.
            await loops.enter_async_context(notification_loop(settings, engine))

    async def stop(app: Litestar) -> None:
        await loops.aclose()
        await side.stop()
        await container.close()

    return start, stop


def create_user_app(
    settings: Settings | None = None,
    user_settings: UserSettings | None = None,
    *,
    container: AsyncContainer | None = None,
) -> Litestar:
    user_settings = user_settings or load_user_settings()
    settings = prepare(own_database(settings or load_settings(), user_settings))
    check_user_settings(settings, user_settings)
    extra = [UserProvider(user_settings), user_use_cases()]
    if user_settings.workerfacing_api_url:
        extra.append(RemoteQueueProvider(user_api_id(settings.data_dir)))
    container = container or make_http_container(settings, *extra)
    start, stop = _lifecycle(container, settings, user_settings)
    cors = None
    if user_settings.frontend_url:
        cors = CORSConfig(allow_origins=[user_settings.frontend_url], allow_credentials=True)
    app = Litestar(
        route_handlers=[
            DishkaRouter(
                "",
                route_handlers=[
                    AccountsController,
                    UserFilesController,
                    UserJobsController,
                    UserInternalController,
                ],
            ),
            # The npg_porch-compatible API, under a prefix of its own (`/porch/`).
            porch_router(),
        ],
        on_startup=[start],
        on_shutdown=[stop],
        exception_handlers={
            DomainError: domain_error_handler,
            Exception: internal_error_handler,
        },
        openapi_config=OPENAPI,
        cors_config=cors,
    )
    setup_dishka(container, app)
    app.asgi_handler = AccessLog(app.asgi_handler, lines=settings.access_log)
    return app
