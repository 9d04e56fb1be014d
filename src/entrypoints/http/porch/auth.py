"""Who calls the tracker: the grant of its bearer token (npg_porch's 32 hex characters)."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from litestar import Request

from domain.pipelines.pipelines_uc import PorchAuth
from domain.pipelines.tokens import TokenGrant
from entrypoints.http.auth import bearer_token


class PorchAuthProvider(Provider):
    @provide(scope=Scope.REQUEST)
    async def grant(
        self,
        request: Request,  # type: ignore[type-arg]
        auth: PorchAuth,
    ) -> TokenGrant:
        return await auth(bearer_token(request))
