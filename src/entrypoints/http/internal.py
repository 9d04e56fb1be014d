"""Endpoints for the user side: enqueue (run once), re-run, the history of attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, PathParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from adapters.wire.decode import Queued, SubmittedJob, queued, to_new_job
from domain import limits
from domain.pipelines.keys import KeyPolicy
from domain.use_cases.rerun import JobAttempts, Requester, RerunJob
from domain.use_cases.submit import SubmitJob
from entrypoints.http.auth import InternalCaller
from entrypoints.http.docs import errors

MAX_BODY_BYTES = 1024 * 1024  # one JobSpecs document: larger is a 413
JobId = Annotated[int, PathParameter(ge=0, le=limits.ID_MAX)]


class AttemptOut(msgspec.Struct):
    number: int
    started_at: datetime
    requested_by: str | None
    status: str
    ended_at: datetime | None
    workers: list[str]


class AttemptsOut(msgspec.Struct):
    id: int
    status: str
    namespace: str | None
    key: str | None
    owner: str | None
    attempts: list[AttemptOut]


class InternalController(Controller):
    tags = ["internal"]
    security = [{"ApiKey": []}]

    @post(
        "/_jobs",
        status_code=HTTP_201_CREATED,
        summary="Enqueue a job (201), or find the job holding its key (200)",
        responses={
            200: ResponseSpec(data_container=Queued, description="the job already holding the key"),
            **errors(400, 401, 413, 422, 503),
        },
        request_max_body_size=MAX_BODY_BYTES,
    )
    async def enqueue(
        self,
        data: JSONBody[SubmittedJob],
        submit: FromDishka[SubmitJob],
        policy: FromDishka[KeyPolicy],
        _: FromDishka[InternalCaller],
        idempotency_key: Annotated[
            str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255)
        ] = None,
    ) -> Response[Queued]:
        job, created = await submit(to_new_job(data, idempotency_key, policy))
        return Response(queued(job), status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @post(
        "/_jobs/{job_id:int}/rerun",
        status_code=HTTP_200_OK,
        summary="Put an ended job back in the queue as a new attempt (owner or admin)",
        responses=errors(401, 403, 404, 409, 503),
        security=[{"ApiKey": []}, {"BearerToken": []}],
    )
    async def rerun(
        self, job_id: JobId, rerun: FromDishka[RerunJob], requester: FromDishka[Requester]
    ) -> Queued:
        return queued(await rerun(job_id, requester))

    @get(
        "/_jobs/{job_id:int}/attempts",
        summary="The job's attempts: who asked, when, how each ended (owner or admin)",
        responses=errors(401, 403, 404, 503),
        security=[{"ApiKey": []}, {"BearerToken": []}],
    )
    async def attempts(
        self,
        job_id: JobId,
        history: FromDishka[JobAttempts],
        requester: FromDishka[Requester],
    ) -> AttemptsOut:
        job, attempts = await history(job_id, requester)
        key = job.key
        return AttemptsOut(
            id=job.id,
            status=job.status.value,
            namespace=key.namespace if key else None,
            key=key.key if key else None,
            owner=job.owner,
            attempts=[
                AttemptOut(
                    a.number,
                    a.started_at,
                    a.requested_by,
                    a.status.value,
                    a.ended_at,
                    list(a.workers),
                )
                for a in attempts
            ],
        )
