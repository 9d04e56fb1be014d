"""Rows <-> domain objects, explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.jobs import (
    Environment,
    Job,
    JobEvent,
    JobSpec,
    NewJob,
    Status,
    UploadPaths,
)
from domain.pipelines.keys import JobKey, KeyScope
from domain.transfers import StatusUpdate


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
        "spec": new.spec.document(),
        "paths_upload": {"output": paths.output, "log": paths.log, "artifact": paths.artifact},
        "namespace": new.key.namespace if new.key else None,
        "job_key": new.key.key if new.key else None,
        "key_scope": new.key.scope.value if new.key else None,
        "owner": new.owner,
    }


def key_from_row(row: Mapping[Any, Any]) -> JobKey | None:
    if row["job_key"] is None:
        return None
    return JobKey(row["namespace"], row["job_key"], KeyScope(row["key_scope"]))


def job_from_row(row: Mapping[Any, Any], tried_by: frozenset[str] = frozenset()) -> Job:
    paths = row["paths_upload"]
    return Job(
        id=row["id"],
        spec=JobSpec.from_document(row["spec"]),
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
        key=key_from_row(row),
        owner=row["owner"],
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
