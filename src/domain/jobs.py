"""The job and its lifecycle: the rules every store and every entrypoint obey."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from domain.commands import Command
from domain.errors import IllegalTransition, NotAssigned
from domain.pipelines.keys import JobKey

MAX_RETRIES_REACHED = "max retries reached"
RERUN = "re-run"  # details of the event that starts a new attempt (`Job.rerun`)


class Status(enum.StrEnum):
    QUEUED = "queued"
    PULLED = "pulled"
    PREPROCESSING = "preprocessing"
    RUNNING = "running"
    POSTPROCESSING = "postprocessing"
    FINISHED = "finished"
    ERROR = "error"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def active(self) -> bool:
        """Held by a worker and under lease."""
        return self in ACTIVE


TERMINAL = frozenset({Status.FINISHED, Status.ERROR, Status.CANCELED})
ACTIVE = frozenset({Status.PULLED, Status.PREPROCESSING, Status.RUNNING, Status.POSTPROCESSING})
# A worker moves its job forward along this line, skipping steps if it likes; `error` is
# reachable from any active status.
_FORWARD = (
    Status.PULLED,
    Status.PREPROCESSING,
    Status.RUNNING,
    Status.POSTPROCESSING,
    Status.FINISHED,
)


class Environment(enum.StrEnum):
    CLOUD = "cloud"
    LOCAL = "local"
    # npg_porch tasks (`domain.pipelines`): no worker offers it, so no pull ever hands one out;
    # they are claimed through the tracker API only.
    PIPELINE = "pipeline"


class FileKind(enum.StrEnum):
    OUTPUT = "output"
    LOG = "log"
    ARTIFACT = "artifact"


@dataclass(frozen=True, slots=True)
class Hardware:
    """A job's needs; None matches any worker."""

    cpu_cores: int | None = None
    memory: int | None = None
    gpu_model: str | None = None
    gpu_archi: str | None = None
    gpu_mem: int | None = None
    timeout: int | None = None  # seconds a run may take (not matched against workers)


@dataclass(frozen=True, slots=True)
class App:
    cmd: tuple[str, ...] | None = None
    env: dict[str, str] | None = None
    command: Command | None = None  # a typed command, instead of `cmd`


@dataclass(frozen=True, slots=True)
class Handler:
    image_url: str
    image_name: str | None = None
    image_version: str | None = None
    entrypoint: str | None = None
    files_down: dict[str, str] | None = None  # local path on the worker -> file id
    files_up: dict[FileKind, str] | None = None  # kind -> local path on the worker


@dataclass(frozen=True, slots=True)
class Meta:
    job_id: int  # the user side's id, used when forwarding status
    date_created: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What the user side submitted and what a worker receives (DECODE JobSpecs)."""

    app: App
    handler: Handler
    meta: Meta
    hardware: Hardware = Hardware()

    @property
    def input_files(self) -> tuple[str, ...]:
        files = tuple((self.handler.files_down or {}).values())
        return files + self.app.command.input_files if self.app.command else files

    def document(self) -> dict[str, Any]:
        """The DECODE JobSpecs document: what a worker receives and the store keeps."""
        app, handler, hw = self.app, self.handler, self.hardware
        files_up = handler.files_up
        app_document: dict[str, Any] = {
            "cmd": list(app.cmd) if app.cmd is not None else None,
            "env": app.env,
        }
        if app.command is not None:
            app_document["command"] = app.command.document()
        hardware: dict[str, Any] = {
            "cpu_cores": hw.cpu_cores,
            "memory": hw.memory,
            "gpu_model": hw.gpu_model,
            "gpu_archi": hw.gpu_archi,
            "gpu_mem": hw.gpu_mem,
        }
        if hw.timeout is not None:
            hardware["timeout"] = hw.timeout
        return {
            "app": app_document,
            "handler": {
                "image_url": handler.image_url,
                "image_name": handler.image_name,
                "image_version": handler.image_version,
                "entrypoint": handler.entrypoint,
                "files_down": handler.files_down,
                "files_up": {k.value: v for k, v in files_up.items()} if files_up else files_up,
            },
            "meta": {
                **self.meta.extra,
                "job_id": self.meta.job_id,
                "date_created": self.meta.date_created,
            },
            "hardware": hardware,
        }

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> JobSpec:
        """The inverse of `document`, for a document already validated (or stored by us)."""
        app, handler, meta = data["app"], data["handler"], data["meta"]
        files_up = handler.get("files_up")
        cmd, command = app.get("cmd"), app.get("command")
        return cls(
            app=App(
                cmd=tuple(cmd) if cmd is not None else None,
                env=app.get("env"),
                command=Command.from_document(command) if command is not None else None,
            ),
            handler=Handler(
                image_url=handler["image_url"],
                image_name=handler.get("image_name"),
                image_version=handler.get("image_version"),
                entrypoint=handler.get("entrypoint"),
                files_down=handler.get("files_down"),
                files_up=(
                    {FileKind(k): v for k, v in files_up.items()} if files_up is not None else None
                ),
            ),
            meta=Meta(
                job_id=meta["job_id"],
                date_created=meta["date_created"],
                extra={k: v for k, v in meta.items() if k not in ("job_id", "date_created")},
            ),
            hardware=Hardware(**(data.get("hardware") or {})),
        )


@dataclass(frozen=True, slots=True)
class UploadPaths:
    """Where a job's results go: one folder per kind."""

    output: str
    log: str
    artifact: str

    def folder(self, kind: FileKind) -> str:
        return str(getattr(self, kind.value))


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job as submitted, before the queue gave it an id."""

    spec: JobSpec
    paths_upload: UploadPaths
    environment: Environment | None = None
    group: str | None = None
    priority: int = 5
    key: JobKey | None = None  # run once: a second submission of it returns this job
    owner: str | None = None  # who may ask for a re-run (besides an admin)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One transition of one job. `notify` says whether the user side is told of it."""

    job_id: int
    at: datetime
    from_status: Status | None
    to_status: Status
    worker: str | None = None
    details: str | None = None
    notify: bool = True


@dataclass(frozen=True, slots=True)
class Report:
    """A worker's status report as data, so that a store can apply it in one step.

    It applies to a job that `worker` holds in one of `accepted_from`; its effect is then the
    one `Job.report` has (the unit tests hold the two equal): the status becomes `status`, the
    lease restarts at `at`, `details` (when given) replace the runtime details, and `event`
    is recorded.
    """

    job_id: int
    worker: str
    status: Status
    at: datetime
    details: str | None = None

    @property
    def accepted_from(self) -> frozenset[Status]:
        """The same status (a keep-alive), or one a worker may move forward from."""
        return _ACCEPTED_FROM[self.status]

    def event(self, from_status: Status) -> JobEvent | None:
        """The event of applying this report to a job in `from_status`; None for a keep-alive."""
        if from_status is self.status:
            return None
        return JobEvent(self.job_id, self.at, from_status, self.status, self.worker, self.details)

    def news(self, from_status: Status, details: str | None) -> JobEvent | None:
        """A keep-alive that carries new runtime_details (the job's were `details`): not a
        transition, so not an event of the job, but news the user side is told of."""
        if from_status is not self.status or self.details in (None, details):
            return None
        return JobEvent(self.job_id, self.at, self.status, self.status, self.worker, self.details)


@dataclass(slots=True)
class Job:
    id: int
    spec: JobSpec
    paths_upload: UploadPaths
    created_at: datetime
    environment: Environment | None = None
    group: str | None = None
    priority: int = 5
    status: Status = Status.QUEUED
    worker: str | None = None
    last_seen: datetime | None = None  # start of the current lease: claim or last report
    attempts: int = 0  # how many times a worker claimed it
    tried_by: frozenset[str] = frozenset()
    runtime_details: str | None = None
    updated_at: datetime | None = None
    version: int = 0  # optimistic concurrency: bumped by every save
    key: JobKey | None = None
    owner: str | None = None

    @classmethod
    def create(cls, job_id: int, new: NewJob, now: datetime) -> Job:
        return cls(
            id=job_id,
            spec=new.spec,
            paths_upload=new.paths_upload,
            created_at=now,
            environment=new.environment,
            group=new.group,
            priority=new.priority,
            updated_at=now,
            key=new.key,
            owner=new.owner,
        )

    def _move(
        self, to: Status, now: datetime, *, details: str | None = None, notify: bool = True
    ) -> JobEvent:
        event = JobEvent(self.id, now, self.status, to, self.worker, details, notify)
        self.status = to
        self.updated_at = now
        return event

    def claim(self, worker: str, now: datetime) -> JobEvent:
        """queued -> pulled: the worker holds the job and its lease starts."""
        if self.status is not Status.QUEUED:
            raise IllegalTransition(f"job {self.id} is {self.status}, not queued")
        self.worker = worker
        self.last_seen = now
        self.attempts += 1
        self.tried_by = self.tried_by | {worker}
        return self._move(Status.PULLED, now)

    def ensure_held_by(self, worker: str) -> None:
        """Raise NotAssigned (404: stop) unless `worker` is the one holding this job."""
        if self.status is Status.CANCELED:
            raise NotAssigned(self.id, "was canceled")
        if self.worker != worker or self.status is Status.QUEUED:
            raise NotAssigned(self.id)

    def ensure_takes_uploads_from(self, worker: str) -> None:
        """The holder uploads while the job is active or in `error` (DECODE's fetcher uploads
        its logs after reporting `error`); NotAssigned (404: stop) unless held by `worker`,
        IllegalTransition (409) once the job is finished."""
        self.ensure_held_by(worker)
        if self.status is Status.FINISHED:
            raise IllegalTransition(f"job {self.id} is finished: it takes no more uploads")

    def ignores_report(self, worker: str, status: Status) -> bool:
        """A report of the holder on its job already in `error`, other than `error` itself:
        answered as accepted and changes nothing (DECODE's fetcher reports `postprocessing`
        after `error`, then uploads its logs)."""
        return self.status is Status.ERROR and status is not Status.ERROR and self.worker == worker

    def report(
        self, worker: str, status: Status, now: datetime, details: str | None = None
    ) -> JobEvent | None:
        """A worker's report: a move forward (an event) or the same status (a keep-alive)."""
        self.ensure_held_by(worker)
        if self.ignores_report(worker, status):
            return None
        if details is not None:
            self.runtime_details = details
        if status is self.status:
            self.last_seen = now
            return None
        if self.status.terminal:
            raise IllegalTransition(f"job {self.id} is already {self.status}")
        if not _is_forward(self.status, status):
            raise IllegalTransition(
                f"a worker cannot move job {self.id} from {self.status} to {status}"
            )
        self.last_seen = now
        return self._move(status, now, details=details)

    def lease_expired(self, now: datetime, timeout: timedelta) -> bool:
        """Under the queue's lease (TIMEOUT_FAILURE) and silent for longer. Tasks of a
        tracker (environment `pipeline`) follow their pipeline's lease instead."""
        if self.environment is Environment.PIPELINE:
            return False
        return self.status.active and self.last_seen is not None and now - self.last_seen > timeout

    def expire(self, now: datetime, max_retries: int) -> JobEvent:
        """The worker went silent: back to the queue while retries remain, else error."""
        if not self.status.active:
            raise IllegalTransition(f"job {self.id} is {self.status}: no lease to expire")
        if self.attempts > max_retries:
            event = self._move(Status.ERROR, now, details=MAX_RETRIES_REACHED)
        else:
            event = self._move(Status.QUEUED, now, details="lease expired")
        # Either way the silent worker no longer holds the job: its next report gets 404.
        self.worker = None
        self.last_seen = None
        return event

    def cancel(self, now: datetime, reason: str, *, notify: bool = False) -> JobEvent | None:
        """Cancel unless already over; a worker's next report gets 404."""
        if self.status.terminal:
            return None
        return self._move(Status.CANCELED, now, details=reason, notify=notify)

    def rerun(self, by: str, now: datetime, *, notify: bool = True) -> JobEvent:
        """A finished, failed or canceled job goes back to the queue as a new attempt: same
        id and key, a fresh lease and retry count; the event marks where the attempt starts."""
        if not self.status.terminal:
            raise IllegalTransition(f"job {self.id} is {self.status}: only an ended job re-runs")
        event = JobEvent(self.id, now, self.status, Status.QUEUED, by, RERUN, notify)
        self.status = Status.QUEUED
        self.updated_at = now
        self.worker = None
        self.last_seen = None
        self.attempts = 0
        self.tried_by = frozenset()
        self.runtime_details = None
        return event

    def advance(
        self, to: Status, by: str, now: datetime, *, lease: bool, notify: bool = False
    ) -> JobEvent:
        """Set the status for a tracker that checked its own rules (`domain.pipelines`);
        `by` is recorded as who did it. No worker holds the job (a tracker's clients are not
        workers: none can report on it). `lease`: the lease restarts now (else none runs)."""
        self.worker = None
        self.last_seen = now if lease and to.active else None
        event = JobEvent(self.id, now, self.status, to, by, None, notify)
        self.status = to
        self.updated_at = now
        return event

    def snapshot(self) -> Job:
        return replace(self)


def _accepts(current: Status, reported: Status) -> bool:
    """Whether a job in `current`, held by the reporting worker, accepts `reported`."""
    if current in (Status.QUEUED, Status.CANCELED):
        return False
    return current is reported or (not current.terminal and _is_forward(current, reported))


def _is_forward(current: Status, new: Status) -> bool:
    if not current.active:
        return False
    if new is Status.ERROR:
        return True
    if new not in _FORWARD:
        return False
    return _FORWARD.index(new) > _FORWARD.index(current)


_ACCEPTED_FROM = {
    reported: frozenset(current for current in Status if _accepts(current, reported))
    for reported in Status
}
