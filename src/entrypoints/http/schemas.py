"""The DECODE wire shapes (msgspec Structs) and their translation to and from the domain."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from domain.errors import InvalidInput
from domain.jobs import (
    App,
    Environment,
    FileKind,
    Handler,
    Hardware,
    JobSpec,
    Meta,
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


def _meta(raw: dict[str, Any]) -> Meta:
    try:
        meta = msgspec.convert(raw, MetaSpecs)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"job.meta: {exc}") from None
    extra = {k: v for k, v in raw.items() if k not in ("job_id", "date_created")}
    return Meta(job_id=meta.job_id, date_created=meta.date_created, extra=extra)


def to_new_job(body: SubmittedJob) -> NewJob:
    spec, hw, handler = body.job, body.job.hardware, body.job.handler
    return NewJob(
        spec=JobSpec(
            app=App(
                cmd=tuple(spec.app.cmd) if spec.app.cmd is not None else None, env=spec.app.env
            ),
            handler=Handler(
                image_url=handler.image_url,
                image_name=handler.image_name,
                image_version=handler.image_version,
                entrypoint=handler.entrypoint,
                files_down=handler.files_down,
                files_up=(
                    {FileKind(k): v for k, v in handler.files_up.items()}
                    if handler.files_up is not None
                    else None
                ),
            ),
            meta=_meta(spec.meta),
            hardware=Hardware(hw.cpu_cores, hw.memory, hw.gpu_model, hw.gpu_archi, hw.gpu_mem),
        ),
        paths_upload=UploadPaths(
            body.paths_upload.output, body.paths_upload.log, body.paths_upload.artifact
        ),
        environment=Environment(body.environment) if body.environment else None,
        group=body.group,
        priority=body.priority,
    )


def job_specs(spec: JobSpec) -> dict[str, Any]:
    """The JobSpecs JSON a worker receives."""
    handler, hw = spec.handler, spec.hardware
    return {
        "app": {
            "cmd": list(spec.app.cmd) if spec.app.cmd is not None else None,
            "env": spec.app.env,
        },
        "handler": {
            "image_url": handler.image_url,
            "image_name": handler.image_name,
            "image_version": handler.image_version,
            "entrypoint": handler.entrypoint,
            "files_down": handler.files_down,
            "files_up": (
                {k.value: v for k, v in handler.files_up.items()}
                if handler.files_up is not None
                else None
            ),
        },
        "meta": {
            **spec.meta.extra,
            "job_id": spec.meta.job_id,
            "date_created": spec.meta.date_created,
        },
        "hardware": {
            "cpu_cores": hw.cpu_cores,
            "memory": hw.memory,
            "gpu_model": hw.gpu_model,
            "gpu_archi": hw.gpu_archi,
            "gpu_mem": hw.gpu_mem,
        },
    }


def transfer_out(request: TransferRequest, base_url: str) -> TransferRequestOut:
    url = base_url.rstrip("/") + request.url if request.url.startswith("/") else request.url
    return TransferRequestOut(request.method, url, dict(request.headers), dict(request.data))
