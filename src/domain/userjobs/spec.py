"""The worker's JobSpecs of a user job, built as DECODE's user API builds them (plus the
catalogue's hardware defaults and timeout, which DECODE never applied)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.catalogue.model import Entrypoint
from domain.jobs import App, FileKind, Handler, Hardware, JobSpec, Meta, NewJob, UploadPaths
from domain.userjobs.model import JobRequest


@dataclass(frozen=True, slots=True)
class InputFile:
    """One file of an input: its path inside the input (a single file: its name) and its
    file id (the key under the data root that the worker downloads)."""

    relative: str
    file_id: str


def complete_hardware(given: Hardware, defaults: Hardware) -> Hardware:
    """What the user left empty, the catalogue's defaults fill."""
    values = {
        f.name: getattr(given, f.name)
        if getattr(given, f.name) is not None
        else getattr(defaults, f.name)
        for f in dataclasses.fields(Hardware)
    }
    return Hardware(**values)


def files_down(
    entry: Entrypoint, inputs: Mapping[str, Sequence[Sequence[InputFile]]]
) -> dict[str, str]:
    """`<catalogue folder>/<path inside the input>` -> file id, for every file of every input.

    `inputs` maps an input kind (config_id, data_ids, artifact_ids) to its inputs, each the
    list of its files. A kind the catalogue gives no folder is not sent to the worker.
    """
    mapping: dict[str, str] = {}
    for kind, groups in inputs.items():
        folder = entry.files_down.get(kind)
        if folder is None:
            continue
        for files in groups:
            for item in files:
                mapping[f"{folder.rstrip('/')}/{item.relative}"] = item.file_id
    return mapping


def upload_paths(username: str, job_name: str) -> UploadPaths:
    """The user's `output|log|artifact/<job_name>` folders, as keys under the data root."""
    return UploadPaths(
        *(f"{username}/{kind.value}/{job_name}" for kind in FileKind),
    )


def build_new_job(
    *,
    user_job_id: int,
    username: str,
    request: JobRequest,
    entry: Entrypoint,
    hardware: Hardware,
    down: dict[str, str],
    created: datetime,
) -> NewJob:
    extra: dict[str, object] = {"username": username, "job_name": request.job_name}
    if entry.timeout is not None:
        extra["timeout"] = entry.timeout  # the worker agent enforces it
    spec = JobSpec(
        app=App(cmd=entry.cmd, env=dict(request.env_vars)),
        handler=Handler(
            image_url=entry.image_url,
            image_name=entry.application,
            image_version=entry.version,
            entrypoint=entry.entrypoint,
            files_down=down,
            files_up=dict(entry.files_up),
        ),
        meta=Meta(job_id=user_job_id, date_created=created.isoformat(), extra=extra),
        hardware=hardware,
    )
    return NewJob(
        spec=spec,
        paths_upload=upload_paths(username, request.job_name),
        environment=request.environment,
        priority=request.priority,
    )
