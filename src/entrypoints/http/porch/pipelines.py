"""npg_porch's pipelines endpoints (and revocation, beyond npg_porch)."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka
from litestar import Controller, delete, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from domain.pipelines.pipelines_uc import (
    AddPipeline,
    GetPipeline,
    ListPipelines,
    MintToken,
    RevokeTokens,
)
from domain.pipelines.tokens import TokenGrant
from entrypoints.http.porch.docs import errors
from entrypoints.http.porch.wire import (
    MaybeQueryText,
    PathText,
    PipelineIn,
    PipelineOut,
    TokenOut,
    TokenRevoked,
    new_pipeline,
    pipeline_out,
)


class PipelinesController(Controller):
    path = "/pipelines"
    tags = ["porch: pipelines"]
    security = [{"PorchToken": []}]

    @get(
        ["/", ""],
        summary="All pipelines, filtered by uri and version (any valid token)",
        responses=errors(400, 401, 503),
    )
    async def list_pipelines(
        self,
        pipelines: FromDishka[ListPipelines],
        _: FromDishka[TokenGrant],
        uri: MaybeQueryText = None,
        version: MaybeQueryText = None,
    ) -> list[PipelineOut]:
        return [pipeline_out(p) for p in await pipelines(uri, version)]

    @get(
        "/{pipeline_name:str}",
        summary="One pipeline (any valid token)",
        responses=errors(400, 401, 404, 503),
    )
    async def get_pipeline(
        self,
        pipeline_name: PathText,
        pipeline: FromDishka[GetPipeline],
        _: FromDishka[TokenGrant],
    ) -> PipelineOut:
        return pipeline_out(await pipeline(pipeline_name))

    @post(
        ["/", ""],
        status_code=HTTP_201_CREATED,
        summary="Create a pipeline (admin token)",
        responses=errors(400, 401, 403, 409, 413, 422, 503),
    )
    async def add_pipeline(
        self,
        data: JSONBody[PipelineIn],
        add: FromDishka[AddPipeline],
        grant: FromDishka[TokenGrant],
    ) -> PipelineOut:
        return pipeline_out(await add(grant, new_pipeline(data)))

    @post(
        "/{pipeline_name:str}/token/{token_desc:str}",
        status_code=HTTP_201_CREATED,
        summary="A new token for the pipeline (admin, or a token of that pipeline)",
        responses=errors(400, 401, 403, 404, 503),
    )
    async def mint_token(
        self,
        pipeline_name: PathText,
        token_desc: PathText,
        mint: FromDishka[MintToken],
        grant: FromDishka[TokenGrant],
    ) -> TokenOut:
        return TokenOut(pipeline_name, token_desc, await mint(grant, pipeline_name, token_desc))

    @delete(
        "/{pipeline_name:str}/token/{token_desc:str}",
        status_code=HTTP_200_OK,
        summary="Revoke the pipeline's tokens of that description",
        responses=errors(400, 401, 403, 404, 503),
    )
    async def revoke_tokens(
        self,
        pipeline_name: PathText,
        token_desc: PathText,
        revoke: FromDishka[RevokeTokens],
        grant: FromDishka[TokenGrant],
    ) -> TokenRevoked:
        count = await revoke(grant, pipeline_name, token_desc)
        return TokenRevoked(pipeline_name, token_desc, count)
