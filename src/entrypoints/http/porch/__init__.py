"""The npg_porch-compatible API: a Litestar Router under a prefix of its own, so that
npg_porch_cli works unchanged with `--base_url http://HOST:PORT/porch/`. The user-facing app
mounts it (`entrypoints.http.user.app`: the user API's port, 8000 by default).

Mounting it needs, in the app's container, the core providers (`entrypoints.ioc`) and
`PorchAuthProvider` (the grant of the request's token)."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import DishkaRouter
from litestar import Request, Router, get

from entrypoints.http.porch.auth import PorchAuthProvider
from entrypoints.http.porch.docs import MAX_BODY_BYTES
from entrypoints.http.porch.ops import OpsController
from entrypoints.http.porch.pipelines import PipelinesController
from entrypoints.http.porch.tasks import TasksController

PORCH_PREFIX = "/porch"
OPENAPI_PATH = "/api/v1/openapi.json"  # where npg_porch_cli reads TaskStateEnum

__all__ = ["OPENAPI_PATH", "PORCH_PREFIX", "PorchAuthProvider", "porch_router"]


def porch_router(prefix: str = PORCH_PREFIX) -> Router:
    @get(OPENAPI_PATH, include_in_schema=False, summary="The porch API's OpenAPI document")
    async def openapi(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """The app's document, narrowed to the paths under the prefix."""
        document: dict[str, Any] = request.app.openapi_schema.to_schema()
        paths = document.get("paths", {})
        document["paths"] = {p: v for p, v in paths.items() if p.startswith(prefix + "/")}
        document["info"] = {**document.get("info", {}), "title": "jobcloud porch API"}
        return document

    return DishkaRouter(
        prefix,
        route_handlers=[PipelinesController, TasksController, OpsController, openapi],
        request_max_body_size=MAX_BODY_BYTES,  # larger: 413, as its OpenAPI says
    )
