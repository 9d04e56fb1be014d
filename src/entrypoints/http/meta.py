"""Service endpoints: liveness, readiness, where workers authenticate, the local JWKS."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get
from litestar.exceptions import NotFoundException

from domain.ports import Health
from entrypoints.http.auth import AccessInfo, LocalJwks
from entrypoints.http.docs import errors


class MetaController(Controller):
    tags = ["service"]

    @get("/health", summary="Liveness")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/ready",
        summary="Readiness: the database answers (503 otherwise)",
        responses=errors(503),
    )
    async def ready(self, health: FromDishka[Health]) -> dict[str, str]:
        await health.ping()
        return {"status": "ready"}

    @get("/access_info", summary="Where workers authenticate")
    async def access_info(self, info: FromDishka[AccessInfo]) -> dict[str, Any]:
        return info.document

    @get(
        "/.well-known/jwks.json",
        summary="Public keys of the local token issuer",
        responses=errors(404),
    )
    async def jwks(self, jwks: FromDishka[LocalJwks]) -> dict[str, Any]:
        if jwks.document is None:
            raise NotFoundException("this deployment uses an external identity provider")
        return jwks.document
