"""Endpoints for the user side (x-api-key): enqueue."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka
from litestar import Controller, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from adapters.wire.decode import Queued, SubmittedJob, to_new_job
from domain.use_cases.submit import SubmitJob
from entrypoints.http.auth import InternalCaller
from entrypoints.http.docs import errors


class InternalController(Controller):
    tags = ["internal"]
    security = [{"ApiKey": []}]

    @post(
        "/_jobs",
        status_code=HTTP_201_CREATED,
        summary="Enqueue a job",
        responses=errors(400, 401, 413, 422, 503),
    )
    async def enqueue(
        self,
        data: JSONBody[SubmittedJob],
        submit: FromDishka[SubmitJob],
        _: FromDishka[InternalCaller],
    ) -> Queued:
        job = await submit(to_new_job(data))
        return Queued(id=job.id, status=job.status.value)
