"""A user's job as the user side sees it, and the rule its status obeys: forward only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from domain.errors import Conflict, InvalidInput, NotFound
from domain.jobs import Environment, FileKind, Hardware, Status

MAX_RUNTIME_DETAILS = 10_000  # characters kept; the worker's latest details win
_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# How far along a job is; the user side's status never goes down this scale.
_RANK = {
    Status.QUEUED: 0,
    Status.PULLED: 1,
    Status.PREPROCESSING: 2,
    Status.RUNNING: 3,
    Status.POSTPROCESSING: 4,
    Status.FINISHED: 5,
    Status.ERROR: 5,
    Status.CANCELED: 5,
}


class UserJobNotFound(NotFound):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class JobNameTaken(Conflict):
    def __init__(self, job_name: str) -> None:
        super().__init__(f"job_name {job_name!r}: you already have a job of that name")


def check_job_name(name: str) -> str:
    """A job name names folders (output/<job_name>): letters, digits, `.`, `_`, `-`."""
    if not _JOB_NAME.fullmatch(name) or ".." in name:
        raise InvalidInput(
            "job_name: 1-100 letters, digits, '.', '_' or '-', starting with a letter or"
            f" digit, no '..' (got {name!r})"
        )
    return name


@dataclass(frozen=True, slots=True)
class Application:
    application: str
    version: str
    entrypoint: str


@dataclass(frozen=True, slots=True)
class Inputs:
    """Paths relative to the user's folder: `config/...`, `data/...`, `artifact/...`."""

    config_id: str | None = None
    data_ids: tuple[str, ...] = ()
    artifact_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobRequest:
    """DECODE's JobCreate."""

    job_name: str
    application: Application
    environment: Environment | None = None
    priority: int = 5
    inputs: Inputs = field(default_factory=Inputs)
    env_vars: dict[str, str] = field(default_factory=dict)
    hardware: Hardware = field(default_factory=Hardware)
    webhook_url: str | None = None  # this job's own webhook (beside DECODE's JobCreate)

    def attributes(self) -> dict[str, Any]:
        return {
            "files_down": {
                "config_id": self.inputs.config_id,
                "data_ids": list(self.inputs.data_ids),
                "artifact_ids": list(self.inputs.artifact_ids),
            },
            "env_vars": dict(self.env_vars),
        }


@dataclass(frozen=True, slots=True)
class UserJob:
    id: int
    username: str
    request: JobRequest
    hardware: Hardware  # the request's, completed by the catalogue's defaults
    date_created: datetime
    status: Status = Status.QUEUED
    date_started: datetime | None = None
    date_finished: datetime | None = None
    runtime_details: str | None = None
    queue_job_id: int | None = None

    @property
    def job_name(self) -> str:
        return self.request.job_name

    def paths_out(self) -> dict[str, str]:
        """The job's result folders, relative to the user's folder."""
        return {kind.value: f"{kind.value}/{self.job_name}" for kind in FileKind}

    def advanced(self, status: Status, details: str | None, at: datetime) -> UserJob | None:
        """The job after a status report; None when it changes nothing.

        Forward only: a terminal job never changes, a lower status (a late or requeued
        report) is ignored, the same status only refreshes the runtime details. The start
        date is set by the first pull (or later status), the finish date by the first end.
        """
        if self.status.terminal or _RANK[status] < _RANK[self.status]:
            return None
        kept = _bounded(details) if details else self.runtime_details
        if status is self.status and kept == self.runtime_details:
            return None
        started = self.date_started
        if started is None and _RANK[status] >= _RANK[Status.PULLED]:
            started = at
        finished = at if status.terminal else None
        return replace(
            self,
            status=status,
            runtime_details=kept,
            date_started=started,
            date_finished=finished,
        )


def _bounded(details: str) -> str:
    return details[-MAX_RUNTIME_DETAILS:]


@dataclass(frozen=True, slots=True)
class JobQuery:
    """A page of a user's jobs, newest first."""

    username: str
    offset: int = 0
    limit: int = 100
    status: Status | None = None

    def __post_init__(self) -> None:
        if self.offset < 0:
            raise InvalidInput("offset: expected an integer >= 0")
        if not 1 <= self.limit <= 1000:
            raise InvalidInput("limit: expected an integer from 1 to 1000")
