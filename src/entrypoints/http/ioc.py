"""The HTTP apps' own providers (who is calling, what the service tells about itself), added
to the core container of `entrypoints.ioc`."""

from __future__ import annotations

from typing import Any

from dishka import AsyncContainer, Provider, Scope, make_async_container, provide
from dishka.integrations.litestar import LitestarProvider
from litestar import Request

from adapters.auth.local import LocalIssuer
from domain.ports import TokenVerifier
from domain.use_cases.rerun import ADMINS_GROUP, Requester
from domain.workers import Principal
from entrypoints.http.auth import (
    AccessInfo,
    InternalCaller,
    LocalJwks,
    authenticate,
    check_api_key,
)
from entrypoints.http.porch.auth import PorchAuthProvider
from entrypoints.ioc import core_providers
from entrypoints.settings import Settings


class HttpProvider(Provider):
    scope = Scope.APP

    @provide
    def local_jwks(self, s: Settings, local: LocalIssuer) -> LocalJwks:
        return LocalJwks(local.jwks() if s.auth_mode == "local" else None)

    @provide
    def access_info(self, s: Settings) -> AccessInfo:
        document: dict[str, Any] = {
            "cognito": {
                "user_pool_id": s.cognito_user_pool_id,
                "client_id": s.cognito_client_id,
                "region": s.cognito_region,
            }
        }
        if s.auth_mode == "oidc":
            document["oidc"] = {
                "jwks_url": s.jwt_jwks_url,
                "issuer": s.jwt_issuer,
                "audience": s.jwt_audience,
            }
        if s.auth_mode == "local":
            document["local"] = {
                "jwks_path": "/.well-known/jwks.json",
                "issuer": LocalIssuer.ISSUER,
                "token_command": "jobcloud token --username NAME --group workers",
            }
        return AccessInfo(document)

    @provide(scope=Scope.REQUEST)
    async def principal(
        self,
        request: Request,  # type: ignore[type-arg]
        verifier: TokenVerifier,
    ) -> Principal:
        return await authenticate(request, verifier)

    @provide(scope=Scope.REQUEST)
    async def requester(
        self,
        request: Request,  # type: ignore[type-arg]
        s: Settings,
        verifier: TokenVerifier,
    ) -> Requester:
        """The user side (x-api-key) is an admin; a token speaks for its user, an admin
        when in the `admins` group."""
        if "x-api-key" in request.headers:
            check_api_key(request, s.internal_api_key_secret)
            return Requester("user-api", admin=True)
        principal = await authenticate(request, verifier)
        return Requester(principal.username, admin=ADMINS_GROUP in principal.groups)

    @provide(scope=Scope.REQUEST)
    def internal_caller(
        self,
        request: Request,  # type: ignore[type-arg]
        s: Settings,
    ) -> InternalCaller:
        return check_api_key(request, s.internal_api_key_secret)


def make_http_container(settings: Settings, *extra: Provider) -> AsyncContainer:
    """The container of an HTTP app: the core, the HTTP providers, then `extra` (overrides)."""
    return make_async_container(
        *core_providers(settings),
        HttpProvider(),
        PorchAuthProvider(),
        LitestarProvider(),
        *extra,
    )
