"""The DECODE worker-API wire shapes (msgspec Structs) and their translation to and from the
domain: imported by the server's controllers and by its clients (the worker agent), never the
reverse."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from domain import limits
from domain.errors import InvalidInput
from domain.jobs import (
    Environment,
    Job,
    JobSpec,
    NewJob,
    UploadPaths,
)
from domain.pipelines.keys import MAX_KEY_LENGTH, KeyPolicy, KeyScope
from domain.transfers import TransferRequest


def _doc(description: str, **schema: Any) -> msgspec.Meta:
    """A field's meaning (and extra OpenAPI schema keywords) for the published docs."""
    return msgspec.Meta(extra_json_schema={"description": description, "extra": schema or None})


MiB = "MiB (mebibytes)"

# Every value within what the store keeps (`domain.limits`): beyond, a 400 naming the field.
NO_NUL = "^[^\\x00]*$"
Name = Annotated[str, msgspec.Meta(max_length=limits.NAME_MAX, pattern=NO_NUL)]
Path = Annotated[str, msgspec.Meta(max_length=limits.PATH_MAX, pattern=NO_NUL)]
Text = Annotated[str, msgspec.Meta(max_length=limits.DETAILS_MAX, pattern=NO_NUL)]
Int32 = Annotated[int, msgspec.Meta(ge=0, le=limits.INT32_MAX)]
Int64 = Annotated[int, msgspec.Meta(ge=0, le=limits.INT64_MAX)]
Id = Annotated[int, msgspec.Meta(ge=0, le=limits.ID_MAX)]
Priority = Annotated[int, msgspec.Meta(ge=-limits.INT32_MAX - 1, le=limits.INT32_MAX)]


class HardwareSpecs(msgspec.Struct, omit_defaults=False):
    """What the job needs; a missing value matches any worker."""

    cpu_cores: Annotated[Int32 | None, _doc("CPU cores the job needs (<= the worker's)")] = None
    memory: Annotated[Int64 | None, _doc(f"memory the job needs, in {MiB}")] = None
    gpu_model: Annotated[Name | None, _doc("GPU model required (equal to the worker's)")] = None
    gpu_archi: Annotated[Name | None, _doc("GPU architecture required (equal)")] = None
    gpu_mem: Annotated[Int64 | None, _doc(f"GPU memory the job needs, in {MiB}")] = None
    timeout: (
        Annotated[
            int,
            msgspec.Meta(ge=1, le=limits.INT32_MAX),
            _doc("seconds the run may take (the agent stops it)"),
        ]
        | None
    ) = None


class ArgumentSpecs(msgspec.Struct):
    type: Annotated[
        Literal["input", "output", "parameter"],
        _doc("input: a file id (downloaded, replaced by its path); output: a relative path"),
    ]
    value: Text
    name: Annotated[Name | None, _doc("rendered before the value, e.g. --threshold")] = None


class StreamSpecs(msgspec.Struct):
    type: Annotated[Literal["pipe", "file"], _doc("pipe: the text / the logs; file: a file")]
    value: Text


class CommandSpecs(msgspec.Struct):
    """A typed command (seed 003): ordered arguments, no shell."""

    arguments: Annotated[list[ArgumentSpecs], msgspec.Meta(min_length=1)]
    stdin: StreamSpecs | None = None
    stdout: StreamSpecs | None = None
    stderr: StreamSpecs | None = None


class AppSpecs(msgspec.Struct):
    cmd: list[Text] | None = None
    env: dict[Name, Text] | None = None
    command: Annotated[
        CommandSpecs | None, _doc("a typed command, instead of cmd (run without a shell)")
    ] = None


class HandlerSpecs(msgspec.Struct):
    image_url: Path
    image_name: Path | None = None
    image_version: Name | None = None
    entrypoint: Path | None = None
    files_down: Annotated[
        dict[Path, Path] | None,
        _doc("local path on the worker -> file id (GET /files/{file id}/url)"),
    ] = None
    files_up: Annotated[
        dict[Literal["output", "log", "artifact"], Path] | None,
        _doc("output/log/artifact -> local path on the worker to upload from"),
    ] = None


class MetaSpecs(msgspec.Struct):
    job_id: Id
    date_created: Name


_META_SCHEMA = {
    "required": ["job_id", "date_created"],
    "properties": {
        "job_id": {"type": "integer", "description": "the user side's job id"},
        "date_created": {"type": "string", "description": "when the user created the job"},
    },
    "additional_properties": True,
}


class JobSpecs(msgspec.Struct):
    """DECODE's JobSpecs: what the user side submits and what a worker receives."""

    app: AppSpecs
    handler: HandlerSpecs
    meta: Annotated[
        dict[str, Any],  # a dict, not MetaSpecs: extra keys are kept and handed on
        _doc("job_id and date_created required; extra keys are kept", **_META_SCHEMA),
    ]
    hardware: HardwareSpecs = msgspec.field(default_factory=HardwareSpecs)


class PathsUploadSpecs(msgspec.Struct):
    output: Path
    log: Path
    artifact: Path


KeyText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_KEY_LENGTH, pattern=NO_NUL)]


class SubmittedJob(msgspec.Struct):
    job: JobSpecs
    paths_upload: PathsUploadSpecs
    environment: Literal["cloud", "local"] | None = None
    group: Name | None = None
    priority: Priority = 5
    # run once: the key (or the Idempotency-Key header), or derive_key: the sha256 of the
    # canonical JSON of the definition (every field above)
    key: KeyText | None = None
    derive_key: bool = False
    namespace: KeyText | None = None
    key_scope: Literal["active", "forever"] | None = None
    owner: KeyText | None = None  # who may ask for a re-run (besides an admin)


class Queued(msgspec.Struct, omit_defaults=True):
    id: int
    status: str
    namespace: str | None = None
    key: str | None = None


def queued(job: Job) -> Queued:
    key = job.key
    return Queued(
        job.id, job.status.value, key.namespace if key else None, key.key if key else None
    )


class TransferRequestOut(msgspec.Struct):
    """An HTTP request to send as given (`requests.request(**d)`), adding only the
    multipart `file` part(s) of an upload."""

    method: Annotated[str, _doc("HTTP method: get (download) or post (upload)")]
    url: Annotated[str, _doc("absolute URL: pre-signed S3, or this API's own endpoint")]
    headers: Annotated[
        dict[str, str],
        _doc("`{}` for S3; for this API: the caller's own `authorization` header, verbatim"),
    ]
    data: Annotated[dict[str, str], _doc("form fields of a pre-signed S3 POST; else `{}`")]


class UploadedFiles(msgspec.Struct):
    files: Annotated[list[str], _doc("the stored files' keys, relative to the data root")]


_NO_FOREVER = KeyPolicy()
_DEFINITION = ("job", "paths_upload", "environment", "group", "priority")


def to_new_job(
    body: SubmittedJob, idempotency_key: str | None = None, policy: KeyPolicy = _NO_FOREVER
) -> NewJob:
    try:
        msgspec.convert(body.job.meta, MetaSpecs)  # job_id and date_created are required
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"job.meta: {exc}") from None
    limits.check_document("job.meta", body.job.meta)
    if idempotency_key is not None and body.key is not None and idempotency_key != body.key:
        raise InvalidInput("key: differs from the Idempotency-Key header")
    document = _without_unset_extensions(msgspec.to_builtins(body))
    key = policy.key_for(
        namespace=body.namespace,
        given=body.key if body.key is not None else idempotency_key,
        scope=KeyScope(body.key_scope) if body.key_scope else None,
        definition={name: document.get(name) for name in _DEFINITION},
        derive=body.derive_key,
    )
    paths = body.paths_upload
    return NewJob(
        key=key,
        owner=body.owner,
        spec=JobSpec.from_document(msgspec.to_builtins(body.job)),
        paths_upload=UploadPaths(paths.output, paths.log, paths.artifact),
        environment=Environment(body.environment) if body.environment else None,
        group=body.group,
        priority=body.priority,
    )


def _without_unset_extensions(document: dict[str, Any]) -> dict[str, Any]:
    """The definition as it was before app.command and hardware.timeout existed, when they
    are unset: derived keys of the same job stay the same."""
    job = document["job"]
    if job["app"].get("command") is None:
        job["app"].pop("command", None)
    if job["hardware"].get("timeout") is None:
        job["hardware"].pop("timeout", None)
    return document


def job_specs(spec: JobSpec) -> dict[str, Any]:
    """The JobSpecs JSON a worker receives."""
    return spec.document()


def transfer_out(
    grant: TransferRequest, own_url: str, authorization: str | None
) -> TransferRequestOut:
    """The description of `grant`. A pre-signed URL carries its own credentials; this API's
    own endpoint (`own_url`, local files) gets the caller's `authorization` header verbatim,
    as DECODE's worker API does (`{}` when the request had none)."""
    if grant.url is not None:
        return TransferRequestOut(grant.method, grant.url, dict(grant.headers), dict(grant.data))
    headers = {"authorization": authorization} if authorization is not None else {}
    return TransferRequestOut(grant.method, own_url, headers, dict(grant.data))


def parse_jobs(payload: bytes) -> dict[int, JobSpec]:
    """The answer of GET /jobs, as a worker reads it: {job id: JobSpec}."""
    try:
        jobs = msgspec.json.decode(payload, type=dict[str, JobSpecs])
        return {
            int(job_id): JobSpec.from_document(msgspec.to_builtins(specs))
            for job_id, specs in jobs.items()
        }
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise InvalidInput(f"GET /jobs answered an unexpected document: {exc}") from None


def parse_transfer(payload: bytes) -> TransferRequestOut:
    """A request description (GET /files/{id}/url, POST /jobs/{id}/files/url)."""
    try:
        return msgspec.json.decode(payload, type=TransferRequestOut)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidInput(f"unexpected request description: {exc}") from None
