"""Jobs: the catalogue, submit, list, follow, delete."""

from __future__ import annotations

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from domain.catalogue.ports import CatalogueSource
from domain.errors import InvalidInput
from domain.jobs import Status
from domain.userjobs.use_cases import DeleteUserJob, GetUserJob, ListUserJobs, SubmitUserJob
from domain.workers import Principal
from entrypoints.http.user.wire import JobCreate, JobOut, job_out, to_request

_STATUSES = ", ".join(s.value for s in Status)


class UserJobsController(Controller):
    path = "/jobs"
    tags = ["user: jobs"]
    security = [{"BearerToken": []}]

    @get("/applications", summary="The application catalogue")
    async def applications(
        self, catalogue: FromDishka[CatalogueSource], principal: FromDishka[Principal]
    ) -> list[dict[str, Any]]:
        return [entry.document() for entry in (await catalogue.current()).entries]

    @get("", summary="Your jobs, newest first")
    async def list_jobs(
        self,
        list_jobs: FromDishka[ListUserJobs],
        principal: FromDishka[Principal],
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        status: Annotated[str | None, QueryParameter(description=_STATUSES)] = None,
    ) -> list[JobOut]:
        try:
            wanted = Status(status) if status else None
        except ValueError:
            raise InvalidInput(f"status: expected one of {_STATUSES}, got {status!r}") from None
        return [job_out(job) for job in await list_jobs(principal, offset, limit, wanted)]

    @get("/{job_id:int}", summary="One of your jobs")
    async def get_job(
        self,
        job_id: FromPath[int],
        get_job: FromDishka[GetUserJob],
        principal: FromDishka[Principal],
    ) -> JobOut:
        return job_out(await get_job(principal, job_id))

    @post(
        "",
        status_code=HTTP_201_CREATED,
        summary="Start a job from the catalogue (Idempotency-Key: a retry returns the same job)",
    )
    async def submit(
        self,
        data: JSONBody[JobCreate],
        submit: FromDishka[SubmitUserJob],
        principal: FromDishka[Principal],
        idempotency_key: Annotated[
            str | None, HeaderParameter(name="Idempotency-Key", max_length=255)
        ] = None,
    ) -> Response[JobOut]:
        job, created = await submit(principal, to_request(data), idempotency_key or None)
        return Response(job_out(job), status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @delete("/{job_id:int}", status_code=HTTP_200_OK, summary="Cancel and delete a job")
    async def delete_job(
        self,
        job_id: FromPath[int],
        delete_job: FromDishka[DeleteUserJob],
        principal: FromDishka[Principal],
    ) -> JobOut:
        return job_out(await delete_job(principal, job_id))
