"""User-job rows <-> domain objects, explicitly."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.workerapi.client import submitted_document
from domain.jobs import Environment, Hardware, JobSpec, NewJob, Status, UploadPaths
from domain.userjobs.model import Application, Inputs, JobRequest, UserJob
from domain.userjobs.submission import Submission, submission_key


def _hardware(value: Hardware) -> dict[str, Any]:
    return dataclasses.asdict(value)


def user_job_row(job: UserJob, idempotency_key: str | None) -> dict[str, Any]:
    request = job.request
    return {
        "username": job.username,
        "job_name": request.job_name,
        "environment": request.environment.value if request.environment else None,
        "priority": request.priority,
        "application": request.application.application,
        "version": request.application.version,
        "entrypoint": request.application.entrypoint,
        "attributes": {**request.attributes(), "hardware": _hardware(request.hardware)},
        "hardware": _hardware(job.hardware),
        "status": job.status.value,
        "date_created": job.date_created,
        "date_started": job.date_started,
        "date_finished": job.date_finished,
        "runtime_details": job.runtime_details,
        "queue_job_id": job.queue_job_id,
        "idempotency_key": idempotency_key,
        "webhook_url": request.webhook_url,
    }


def progress_row(job: UserJob) -> dict[str, Any]:
    """The columns a status step changes."""
    return {
        "status": job.status.value,
        "date_started": job.date_started,
        "date_finished": job.date_finished,
        "runtime_details": job.runtime_details,
    }


def user_job_from_row(row: Mapping[Any, Any]) -> UserJob:
    attributes = row["attributes"]
    down = attributes.get("files_down") or {}
    request = JobRequest(
        job_name=row["job_name"],
        application=Application(row["application"], row["version"], row["entrypoint"]),
        environment=Environment(row["environment"]) if row["environment"] else None,
        priority=row["priority"],
        inputs=Inputs(
            config_id=down.get("config_id"),
            data_ids=tuple(down.get("data_ids") or ()),
            artifact_ids=tuple(down.get("artifact_ids") or ()),
        ),
        env_vars=dict(attributes.get("env_vars") or {}),
        hardware=Hardware(**(attributes.get("hardware") or {})),
        webhook_url=row["webhook_url"],
    )
    return UserJob(
        id=row["id"],
        username=row["username"],
        request=request,
        hardware=Hardware(**row["hardware"]),
        date_created=row["date_created"],
        status=Status(row["status"]),
        date_started=row["date_started"],
        date_finished=row["date_finished"],
        runtime_details=row["runtime_details"],
        queue_job_id=row["queue_job_id"],
    )


def outbox_row(user_job_id: int, job: NewJob, scope: str, now: datetime) -> dict[str, Any]:
    return {
        "user_job_id": user_job_id,
        "idempotency_key": submission_key(user_job_id, scope),
        "payload": submitted_document(job),
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
    }


def submission_from_row(row: Mapping[Any, Any]) -> Submission:
    payload = row["payload"]
    paths = payload["paths_upload"]
    job = NewJob(
        spec=JobSpec.from_document(payload["job"]),
        paths_upload=UploadPaths(paths["output"], paths["log"], paths["artifact"]),
        environment=Environment(payload["environment"]) if payload["environment"] else None,
        group=payload["group"],
        priority=payload["priority"],
    )
    return Submission(row["id"], row["user_job_id"], row["idempotency_key"], job, row["attempts"])
