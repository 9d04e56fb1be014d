"""Use cases of the tracker's pipelines and tokens."""

from __future__ import annotations

from domain.errors import NotAuthenticated
from domain.pipelines.porch import Pipeline
from domain.pipelines.ports import PipelineStore
from domain.pipelines.tokens import TokenGrant, new_token, token_hash
from domain.ports import Clock


class PorchAuth:
    """The grant of a bearer token; NotAuthenticated when unknown or revoked."""

    def __init__(self, pipelines: PipelineStore) -> None:
        self._pipelines = pipelines

    async def __call__(self, token: str) -> TokenGrant:
        grant = await self._pipelines.grant(token_hash(token))
        if grant is None:
            raise NotAuthenticated("unknown or revoked porch token")
        return grant


class AddPipeline:
    def __init__(self, pipelines: PipelineStore, clock: Clock) -> None:
        self._pipelines = pipelines
        self._clock = clock

    async def __call__(self, grant: TokenGrant, pipeline: Pipeline) -> Pipeline:
        grant.require_admin()
        return await self._pipelines.add_pipeline(pipeline, self._clock.now())


class ListPipelines:
    def __init__(self, pipelines: PipelineStore) -> None:
        self._pipelines = pipelines

    async def __call__(self, uri: str | None, version: str | None) -> list[Pipeline]:
        return await self._pipelines.pipelines(uri, version)


class GetPipeline:
    def __init__(self, pipelines: PipelineStore) -> None:
        self._pipelines = pipelines

    async def __call__(self, name: str) -> Pipeline:
        return await self._pipelines.pipeline(name)


class MintToken:
    """A new token for a pipeline: by an admin, or by a token of that same pipeline."""

    def __init__(self, pipelines: PipelineStore, clock: Clock) -> None:
        self._pipelines = pipelines
        self._clock = clock

    async def __call__(self, grant: TokenGrant, name: str, description: str) -> str:
        grant.require_pipeline(name)
        await self._pipelines.pipeline(name)  # 404 before anything is written
        token = new_token()
        await self._pipelines.add_token(token_hash(token), description, name, self._clock.now())
        return token


class MintAdminToken:
    """A new admin token (`jobcloud porch-token`)."""

    def __init__(self, pipelines: PipelineStore, clock: Clock) -> None:
        self._pipelines = pipelines
        self._clock = clock

    async def __call__(self, description: str) -> str:
        token = new_token()
        await self._pipelines.add_token(token_hash(token), description, None, self._clock.now())
        return token


class RevokeTokens:
    """Revoke a pipeline's tokens of one description (an admin, or that pipeline's token);
    with `name` None, admin tokens (an admin only)."""

    def __init__(self, pipelines: PipelineStore, clock: Clock) -> None:
        self._pipelines = pipelines
        self._clock = clock

    async def __call__(self, grant: TokenGrant, name: str | None, description: str) -> int:
        if name is None:
            grant.require_admin()
        else:
            grant.require_pipeline(name)
            await self._pipelines.pipeline(name)
        return await self._pipelines.revoke(name, description, self._clock.now())
