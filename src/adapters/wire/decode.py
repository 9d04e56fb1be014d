"""The DECODE worker-API wire shapes (msgspec Structs) and their translation to and from the
domain: imported by the server's controllers and by its clients (the worker agent), never the
reverse."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from domain.errors import InvalidInput
from domain.jobs import (
    Environment,
    JobSpec,
    NewJob,
    UploadPaths,
)
from domain.transfers import TransferRequest


class HardwareSpecs(msgspec.Struct, omit_defaults=False):
    cpu_cores: int | None = None
    memory: int | None = None
    gpu_model: str | None = None
    gpu_archi: str | None = None
    gpu_mem: int | None = None


class AppSpecs(msgspec.Struct):
    cmd: list[str] | None = None
    env: dict[str, str] | None = None


class HandlerSpecs(msgspec.Struct):
    image_url: str
    image_name: str | None = None
    image_version: str | None = None
    entrypoint: str | None = None
    files_down: dict[str, str] | None = None
    files_up: dict[Literal["output", "log", "artifact"], str] | None = None


class MetaSpecs(msgspec.Struct):
    job_id: int
    date_created: str


class JobSpecs(msgspec.Struct):
    app: AppSpecs
    handler: HandlerSpecs
    meta: dict[str, Any]  # job_id and date_created required; extra keys kept
    hardware: HardwareSpecs = msgspec.field(default_factory=HardwareSpecs)


class PathsUploadSpecs(msgspec.Struct):
    output: str
    log: str
    artifact: str


class SubmittedJob(msgspec.Struct):
    job: JobSpecs
    paths_upload: PathsUploadSpecs
    environment: Literal["cloud", "local"] | None = None
    group: str | None = None
    priority: int = 5


class Queued(msgspec.Struct):
    id: int
    status: str


class TransferRequestOut(msgspec.Struct):
    method: str
    url: str
    headers: dict[str, str]
    data: dict[str, str]


def to_new_job(body: SubmittedJob) -> NewJob:
    try:
        msgspec.convert(body.job.meta, MetaSpecs)  # job_id and date_created are required
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"job.meta: {exc}") from None
    paths = body.paths_upload
    return NewJob(
        spec=JobSpec.from_document(msgspec.to_builtins(body.job)),
        paths_upload=UploadPaths(paths.output, paths.log, paths.artifact),
        environment=Environment(body.environment) if body.environment else None,
        group=body.group,
        priority=body.priority,
    )


def job_specs(spec: JobSpec) -> dict[str, Any]:
    """The JobSpecs JSON a worker receives."""
    return spec.document()


def transfer_out(request: TransferRequest, base_url: str) -> TransferRequestOut:
    url = base_url.rstrip("/") + request.url if request.url.startswith("/") else request.url
    return TransferRequestOut(request.method, url, dict(request.headers), dict(request.data))
