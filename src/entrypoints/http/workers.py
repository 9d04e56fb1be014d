"""The worker-facing job endpoints (DECODE paths and shapes). Thin: translate, call, translate."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, MediaType, Response, get, put
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from adapters.wire.decode import job_specs
from domain.jobs import Status
from domain.matching import WorkerOffer
from domain.use_cases.pull import PullJobs
from domain.use_cases.report import JobStatus, ReportStatus
from domain.workers import Principal

NonNegative = Annotated[int, QueryParameter(ge=0)]
Text = FromQuery[str | None]


class WorkerJobsController(Controller):
    tags = ["worker: jobs"]
    security = [{"BearerToken": []}]

    @get("/jobs", summary="Claim up to `limit` jobs this worker can run")
    async def pull(
        self,
        pull_jobs: FromDishka[PullJobs],
        principal: FromDishka[Principal],
        memory: NonNegative = 0,
        cpu_cores: NonNegative = 1,
        gpu_mem: NonNegative = 0,
        gpu_model: Text = None,
        gpu_archi: Text = None,
        groups: FromQuery[list[str] | None] = None,
        limit: Annotated[int, QueryParameter(ge=1)] = 1,
        older_than: NonNegative = 0,
    ) -> dict[str, dict[str, Any]]:
        offer = WorkerOffer(
            worker=principal.username,
            environment=principal.environment,
            cpu_cores=cpu_cores,
            memory=memory,
            gpu_mem=gpu_mem,
            gpu_model=gpu_model or None,
            gpu_archi=gpu_archi or None,
            groups=frozenset(g for g in groups or () if g),
            older_than=older_than,
        )
        jobs = await pull_jobs(principal, offer, limit)
        return {str(job.id): job_specs(job.spec) for job in jobs}

    @get("/jobs/{job_id:int}/status", summary="The job's status, as a JSON string")
    async def status(
        self,
        job_id: FromPath[int],
        job_status: FromDishka[JobStatus],
        principal: FromDishka[Principal],
    ) -> Response[bytes]:
        status = await job_status(principal, job_id)
        return Response(msgspec.json.encode(status.value), media_type=MediaType.JSON)

    @put(
        "/jobs/{job_id:int}/status",
        status_code=HTTP_204_NO_CONTENT,
        summary="Report a status, or the same status again as a keep-alive; 404 means stop",
    )
    async def report(
        self,
        job_id: FromPath[int],
        status: FromQuery[Status],
        report_status: FromDishka[ReportStatus],
        principal: FromDishka[Principal],
        runtime_details: Text = None,
    ) -> None:
        await report_status(principal, job_id, status, runtime_details)
