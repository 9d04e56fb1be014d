"""The worker-facing job endpoints (DECODE paths and shapes). Thin: translate, call, translate."""

from __future__ import annotations

from typing import Annotated, cast

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, MediaType, Response, get, put
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery, PathParameter, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from adapters.wire.decode import NO_NUL, JobSpecs, job_specs
from domain import limits
from domain.jobs import Status
from domain.matching import WorkerOffer
from domain.use_cases.pull import PullJobs
from domain.use_cases.report import JobStatus, ReportStatus
from domain.workers import Principal
from entrypoints import metrics
from entrypoints.http.docs import errors

MiB = "in MiB (mebibytes)"
OFFER = "jobs needing more are not offered"

# Every value bounded by what the store keeps (`domain.limits`): beyond, a 400 naming it.
INT32, INT64 = limits.INT32_MAX, limits.INT64_MAX
Memory = Annotated[
    int,
    QueryParameter(ge=0, le=INT64, description=f"the worker's free memory, {MiB}; {OFFER}"),
]
CpuCores = Annotated[
    int, QueryParameter(ge=0, le=INT32, description=f"the worker's CPU cores; {OFFER}")
]
GpuMem = Annotated[
    int,
    QueryParameter(ge=0, le=INT64, description=f"the worker's GPU memory, {MiB}; {OFFER}"),
]
GpuModel = Annotated[
    str | None,
    QueryParameter(
        description="the worker's GPU model; a job requiring one needs it equal",
        max_length=limits.NAME_MAX,
        pattern=NO_NUL,
    ),
]
GpuArchi = Annotated[
    str | None,
    QueryParameter(
        description="the worker's GPU architecture; matched like gpu_model",
        max_length=limits.NAME_MAX,
        pattern=NO_NUL,
    ),
]
Group = Annotated[str, msgspec.Meta(max_length=limits.NAME_MAX, pattern=NO_NUL)]
Groups = Annotated[
    list[Group] | None,
    QueryParameter(
        description="groups the worker serves (repeat the parameter): jobs submitted to one "
        "of them are offered to it before any other job",
        max_items=limits.GROUPS_MAX,
    ),
]
Limit = Annotated[
    int,
    QueryParameter(
        ge=1, le=INT32, description="the most jobs to claim at once (up to JOBCLOUD_MAX_PULL)"
    ),
]
OlderThan = Annotated[
    int,
    QueryParameter(
        ge=0,
        le=limits.OLDER_THAN_MAX,
        description="seconds: a job submitted for any environment is offered only once it is "
        "older than this (a job pinned to the worker's environment is offered at once)",
    ),
]
JobId = Annotated[int, PathParameter(ge=0, le=limits.ID_MAX)]
RuntimeDetails = Annotated[
    str | None,
    QueryParameter(
        max_length=limits.DETAILS_MAX,
        pattern=NO_NUL,
        description="free text kept with the job and forwarded to the user side (progress, "
        "or the log tail of a failed run); the last report that carried it wins",
    ),
]


class WorkerJobsController(Controller):
    tags = ["worker: jobs"]
    security = [{"BearerToken": []}]

    @get(
        "/jobs",
        summary="Claim up to `limit` jobs this worker can run",
        description='Answers `{"<job id>": JobSpecs}`, `{}` when none matches. Jobs of '
        "the worker's groups first, then higher priority, then older. A claimed job is "
        "`pulled`: report on it within TIMEOUT_FAILURE seconds or lose it.",
        responses=errors(400, 401, 403, 422, 503),
    )
    async def pull(
        self,
        pull_jobs: FromDishka[PullJobs],
        principal: FromDishka[Principal],
        memory: Memory = 0,
        cpu_cores: CpuCores = 1,
        gpu_mem: GpuMem = 0,
        gpu_model: GpuModel = None,
        gpu_archi: GpuArchi = None,
        groups: Groups = None,
        limit: Limit = 1,
        older_than: OlderThan = 0,
    ) -> dict[str, JobSpecs]:
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
        metrics.jobs_claimed.inc(len(jobs))
        # The JobSpecs documents as stored (no Struct round trip on the hot path); the
        # annotation documents their shape.
        return cast("dict[str, JobSpecs]", {str(job.id): job_specs(job.spec) for job in jobs})

    @get(
        "/jobs/{job_id:int}/status",
        summary="The job's status, as a JSON string",
        responses={
            200: ResponseSpec(data_container=Status, description="the job's status"),
            **errors(400, 401, 403, 404, 503),
        },
    )
    async def status(
        self,
        job_id: JobId,
        job_status: FromDishka[JobStatus],
        principal: FromDishka[Principal],
    ) -> Response[bytes]:
        status = await job_status(principal, job_id)
        return Response(msgspec.json.encode(status.value), media_type=MediaType.JSON)

    @put(
        "/jobs/{job_id:int}/status",
        status_code=HTTP_204_NO_CONTENT,
        summary="Report a status, or the same status again as a keep-alive; 404 means stop",
        description="Forward along pulled -> preprocessing -> running -> postprocessing -> "
        "finished (steps may be skipped); `error` from any active status. The same status "
        "again renews the lease. After the holder's own `error`, any other report is "
        "accepted and changes nothing. 404: the worker does not hold the job (any more, "
        "or it was canceled): stop.",
        responses=errors(400, 401, 403, 404, 409, 422, 503),
    )
    async def report(
        self,
        job_id: JobId,
        status: FromQuery[Status],
        report_status: FromDishka[ReportStatus],
        principal: FromDishka[Principal],
        runtime_details: RuntimeDetails = None,
    ) -> None:
        await report_status(principal, job_id, status, runtime_details)
        metrics.reports.labels(status.value).inc()
