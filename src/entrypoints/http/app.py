"""The Litestar app factory: routes, the error table, OpenAPI, DI and the in-process scheduler."""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable

from dishka import AsyncContainer
from dishka.integrations.litestar import DishkaRouter, setup_dishka
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.migrate import upgrade
from domain.errors import DomainError
from domain.ports import JobStore
from entrypoints.bootstrap import prepare
from entrypoints.http.access_log import AccessLog
from entrypoints.http.docs import OPENAPI, docs_assets
from entrypoints.http.errors import domain_error_handler, internal_error_handler
from entrypoints.http.files import WorkerFilesController
from entrypoints.http.internal import InternalController
from entrypoints.http.ioc import make_http_container
from entrypoints.http.meta import MetaController
from entrypoints.http.metrics import MetricsController
from entrypoints.http.workers import WorkerJobsController
from entrypoints.logs import quiet_libraries
from entrypoints.scheduler import Scheduler
from entrypoints.settings import Settings, load_settings

log = logging.getLogger("jobcloud")


Hook = Callable[[Litestar], Awaitable[None]]


def _lifecycle(
    container: AsyncContainer, scheduler: Scheduler, *, with_scheduler: bool, freeze_gc: bool
) -> tuple[Hook, Hook]:
    """Start-up (migrations, the store's connections, the scheduler) and shutdown."""

    async def start(app: Litestar) -> None:
        await upgrade(await container.get(AsyncEngine))
        await container.get(JobStore)  # opens (and warms) the store's connections now
        if with_scheduler:
            scheduler.start()
        if freeze_gc:
            gc.collect()
            gc.freeze()

    async def stop(app: Litestar) -> None:
        await scheduler.stop()
        await container.close()

    return start, stop


def create_app(
    settings: Settings | None = None,
    *,
    container: AsyncContainer | None = None,
    run_scheduler: bool | None = None,
    freeze_gc: bool = False,
) -> Litestar:
    """The app for `settings` (default: from the environment). Tests pass a container.

    `freeze_gc` (the server process's own app): once started, keep everything built so far
    out of the cyclic collector's full passes. They otherwise stall every request in flight
    (~80 ms each on the benchmark machine: the tail of the pull latency under load)."""
    quiet_libraries()
    settings = prepare(settings or load_settings())
    container = container or make_http_container(settings)
    scheduler = Scheduler(container, settings)
    with_scheduler = settings.scheduler if run_scheduler is None else run_scheduler
    start, stop = _lifecycle(
        container, scheduler, with_scheduler=with_scheduler, freeze_gc=freeze_gc
    )
    app = Litestar(
        route_handlers=[
            DishkaRouter(
                "",
                route_handlers=[
                    WorkerJobsController,
                    WorkerFilesController,
                    InternalController,
                    MetaController,
                    MetricsController,
                ],
            ),
            docs_assets(),
        ],
        on_startup=[start],
        on_shutdown=[stop],
        exception_handlers={
            DomainError: domain_error_handler,
            Exception: internal_error_handler,
        },
        openapi_config=OPENAPI,
    )
    setup_dishka(container, app)
    app.asgi_handler = AccessLog(app.asgi_handler, lines=settings.access_log)
    app.state.scheduler = scheduler  # its loops' lag, for an operator's view
    return app
