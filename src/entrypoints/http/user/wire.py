"""The DECODE user API's wire shapes (msgspec) and their translation to and from the domain."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from domain.accounts.profile import KEEP, Profile, ProfileUpdate
from domain.jobs import Environment, Hardware, Status
from domain.userfiles.use_cases import Listed
from domain.userjobs.model import Application, Inputs, JobRequest, UserJob
from domain.workers import Principal

Count = Annotated[int, msgspec.Meta(ge=0)]


class ApplicationSpecs(msgspec.Struct):
    application: str
    version: str
    entrypoint: str


class FilesDown(msgspec.Struct):
    config_id: str | None = None
    data_ids: list[str] | None = None
    artifact_ids: list[str] | None = None


class Attributes(msgspec.Struct):
    files_down: FilesDown | None = None
    env_vars: dict[str, str] | None = None


class HardwareSpecs(msgspec.Struct, omit_defaults=False):
    cpu_cores: Annotated[int, msgspec.Meta(ge=1)] | None = None
    memory: Count | None = None
    gpu_model: str | None = None
    gpu_archi: str | None = None
    gpu_mem: Count | None = None


class JobNotify(msgspec.Struct):
    """Beyond DECODE: where this job's status changes go (its webhook wins over the user's)."""

    webhook_url: str | None = None


class JobCreate(msgspec.Struct):
    job_name: str
    application: ApplicationSpecs
    attributes: Attributes | None = None
    environment: Literal["cloud", "local", "any"] | None = None
    priority: Annotated[int, msgspec.Meta(ge=0, le=5)] = 0
    hardware: HardwareSpecs | None = None
    notify: JobNotify | None = None


class PathsOut(msgspec.Struct):
    output: str
    log: str
    artifact: str


class JobOut(msgspec.Struct):
    id: int
    job_name: str
    environment: str | None
    priority: int
    application: ApplicationSpecs
    attributes: dict[str, Any]
    hardware: HardwareSpecs
    date_created: datetime
    date_started: datetime | None
    date_finished: datetime | None
    status: str
    runtime_details: str | None
    paths_out: PathsOut
    notify: JobNotify | None = None


class FileInfo(msgspec.Struct):
    path: str
    type: Literal["file", "directory"]
    size: str  # humanized, as DECODE
    bytes: int  # exact


class Rename(msgspec.Struct):
    path: str


class ProfileIn(msgspec.Struct, forbid_unknown_fields=True):
    """PUT /user: a field given replaces the stored one (null clears it); absent ones stay."""

    email: str | msgspec.UnsetType | None = msgspec.UNSET
    webhook_url: str | msgspec.UnsetType | None = msgspec.UNSET
    new_webhook_secret: bool = False  # true: a new secret signs your webhooks from now on


class UserOut(msgspec.Struct):
    """GET /user: who you are; for users, where you are told of your jobs and the secret
    that signs your webhooks (shown to you only)."""

    username: str
    groups: list[str]
    email: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None


class JobStatusIn(msgspec.Struct):
    """PUT /_job_status, as a (remote) worker API sends it."""

    job_id: int
    status: Status
    runtime_details: str | None = None


def to_request(body: JobCreate) -> JobRequest:
    attributes = body.attributes or Attributes()
    down = attributes.files_down or FilesDown()
    environment = body.environment if body.environment in ("cloud", "local") else None
    hardware = msgspec.structs.asdict(body.hardware) if body.hardware else {}
    return JobRequest(
        job_name=body.job_name,
        application=Application(
            body.application.application, body.application.version, body.application.entrypoint
        ),
        environment=Environment(environment) if environment else None,
        priority=body.priority,
        inputs=Inputs(
            config_id=down.config_id or None,
            data_ids=tuple(down.data_ids or ()),
            artifact_ids=tuple(down.artifact_ids or ()),
        ),
        env_vars=dict(attributes.env_vars or {}),
        hardware=Hardware(**hardware),
        webhook_url=body.notify.webhook_url if body.notify else None,
    )


def to_update(body: ProfileIn) -> ProfileUpdate:
    """InvalidInput (422) names a bad field."""
    return ProfileUpdate(
        email=KEEP if body.email is msgspec.UNSET else body.email,
        webhook_url=KEEP if body.webhook_url is msgspec.UNSET else body.webhook_url,
        new_webhook_secret=body.new_webhook_secret,
    )


def user_out(principal: Principal, profile: Profile | None) -> UserOut:
    out = UserOut(principal.username, sorted(principal.groups))
    if profile is not None:
        out.email, out.webhook_url = profile.email, profile.webhook_url
        out.webhook_secret = profile.webhook_secret
    return out


def job_out(job: UserJob) -> JobOut:
    request = job.request
    return JobOut(
        id=job.id,
        job_name=job.job_name,
        environment=request.environment.value if request.environment else None,
        priority=request.priority,
        application=ApplicationSpecs(**dataclasses.asdict(request.application)),
        attributes=request.attributes(),
        # the fields of DECODE's user API (domain Hardware also has the agent's timeout)
        hardware=HardwareSpecs(
            **{name: getattr(job.hardware, name) for name in HardwareSpecs.__struct_fields__}
        ),
        date_created=job.date_created,
        date_started=job.date_started,
        date_finished=job.date_finished,
        status=job.status.value,
        runtime_details=job.runtime_details,
        paths_out=PathsOut(**job.paths_out()),
        notify=JobNotify(request.webhook_url) if request.webhook_url else None,
    )


def humanized(size: int) -> str:
    """Decimal units, as DECODE's humanize.naturalsize: "1 Byte", "12 Bytes", "1.2 kB"."""
    if size < 1000:
        return f"{size} Byte" if size == 1 else f"{size} Bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000
        if value < 1000:
            return f"{value:.1f} {unit}"
    return f"{value:.1f} PB"


def file_info(item: Listed) -> FileInfo:
    kind: Literal["file", "directory"] = "directory" if item.is_dir else "file"
    return FileInfo(item.path, kind, humanized(item.size), item.size)
