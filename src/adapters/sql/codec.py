"""Rows <-> domain objects, explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.jobs import (
    App,
    Environment,
    FileKind,
    Handler,
    Hardware,
    Job,
    JobEvent,
    JobSpec,
    Meta,
    NewJob,
    Status,
    UploadPaths,
)
from domain.transfers import StatusUpdate


def spec_to_json(spec: JobSpec) -> dict[str, Any]:
    handler = spec.handler
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
                {kind.value: path for kind, path in handler.files_up.items()}
                if handler.files_up is not None
                else None
            ),
        },
        "meta": {
            "job_id": spec.meta.job_id,
            "date_created": spec.meta.date_created,
            "extra": spec.meta.extra,
        },
    }


def spec_from_json(data: Mapping[Any, Any], hardware: Hardware) -> JobSpec:
    app, handler, meta = data["app"], data["handler"], data["meta"]
    files_up = handler.get("files_up")
    return JobSpec(
        app=App(cmd=tuple(app["cmd"]) if app.get("cmd") is not None else None, env=app.get("env")),
        handler=Handler(
            image_url=handler["image_url"],
            image_name=handler.get("image_name"),
            image_version=handler.get("image_version"),
            entrypoint=handler.get("entrypoint"),
            files_down=handler.get("files_down"),
            files_up=(
                {FileKind(kind): path for kind, path in files_up.items()}
                if files_up is not None
                else None
            ),
        ),
        meta=Meta(
            job_id=meta["job_id"], date_created=meta["date_created"], extra=meta.get("extra") or {}
        ),
        hardware=hardware,
    )


def new_job_row(new: NewJob, now: Any) -> dict[str, Any]:
    hw, paths = new.spec.hardware, new.paths_upload
    return {
        "status": Status.QUEUED.value,
        "environment": new.environment.value if new.environment else None,
        "job_group": new.group,
        "priority": new.priority,
        "cpu_cores": hw.cpu_cores,
        "memory": hw.memory,
        "gpu_model": hw.gpu_model,
        "gpu_archi": hw.gpu_archi,
        "gpu_mem": hw.gpu_mem,
        "created_at": now,
        "updated_at": now,
        "worker": None,
        "last_seen": None,
        "attempts": 0,
        "runtime_details": None,
        "version": 0,
        "user_job_id": new.spec.meta.job_id,
        "spec": spec_to_json(new.spec),
        "paths_upload": {"output": paths.output, "log": paths.log, "artifact": paths.artifact},
    }


def job_from_row(row: Mapping[Any, Any], tried_by: frozenset[str] = frozenset()) -> Job:
    hardware = Hardware(
        row["cpu_cores"], row["memory"], row["gpu_model"], row["gpu_archi"], row["gpu_mem"]
    )
    paths = row["paths_upload"]
    return Job(
        id=row["id"],
        spec=spec_from_json(row["spec"], hardware),
        paths_upload=UploadPaths(paths["output"], paths["log"], paths["artifact"]),
        created_at=row["created_at"],
        environment=Environment(row["environment"]) if row["environment"] else None,
        group=row["job_group"],
        priority=row["priority"],
        status=Status(row["status"]),
        worker=row["worker"],
        last_seen=row["last_seen"],
        attempts=row["attempts"],
        tried_by=tried_by,
        runtime_details=row["runtime_details"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def event_row(event: JobEvent) -> dict[str, Any]:
    return {
        "job_id": event.job_id,
        "at": event.at,
        "from_status": event.from_status.value if event.from_status else None,
        "to_status": event.to_status.value,
        "worker": event.worker,
        "details": event.details,
        "notify": int(event.notify),
    }


def event_from_row(row: Mapping[Any, Any]) -> JobEvent:
    return JobEvent(
        job_id=row["job_id"],
        at=row["at"],
        from_status=Status(row["from_status"]) if row["from_status"] else None,
        to_status=Status(row["to_status"]),
        worker=row["worker"],
        details=row["details"],
        notify=bool(row["notify"]),
    )


def outbox_row(event: JobEvent, user_job_id: int) -> dict[str, Any]:
    return {
        "job_id": event.job_id,
        "user_job_id": user_job_id,
        "status": event.to_status.value,
        "runtime_details": event.details,
        "attempts": 0,
        "created_at": event.at,
        "next_attempt_at": event.at,
    }


def update_from_row(row: Mapping[Any, Any]) -> StatusUpdate:
    return StatusUpdate(
        message_id=row["id"],
        job_id=row["job_id"],
        user_job_id=row["user_job_id"],
        status=Status(row["status"]),
        runtime_details=row["runtime_details"],
        attempts=row["attempts"],
        created_at=row["created_at"],
    )
