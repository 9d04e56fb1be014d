"""npg_porch's pipelines and tasks, on the core: a task is a job of namespace
`porch/<pipeline name>` whose key is its task_input_id (scope forever, as npg_porch), in the
`pipeline` environment (so no worker's pull ever takes it); its status maps onto the job's.

Beyond npg_porch, transitions are checked: PENDING -> CLAIMED -> RUNNING -> DONE | FAILED;
CANCELLED from any state but DONE; back to PENDING only from FAILED, CANCELLED or DONE, as a
re-run (a new attempt, the history kept). Reporting the current status again changes nothing
(and, with a lease, keeps it alive).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import Conflict, IllegalTransition, NotFound
from domain.jobs import (
    App,
    Environment,
    Handler,
    Job,
    JobEvent,
    JobSpec,
    Meta,
    NewJob,
    Status,
    UploadPaths,
)
from domain.pipelines.keys import TRACKER_PREFIX, JobKey, KeyScope, definition_key

NAMESPACE_PREFIX = TRACKER_PREFIX


class TaskState(enum.StrEnum):
    PENDING = "PENDING"
    CLAIMED = "CLAIMED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


JOB_STATUS = {
    TaskState.PENDING: Status.QUEUED,
    TaskState.CLAIMED: Status.PULLED,
    TaskState.RUNNING: Status.RUNNING,
    TaskState.DONE: Status.FINISHED,
    TaskState.FAILED: Status.ERROR,
    TaskState.CANCELLED: Status.CANCELED,
}
_STATE = {status: state for state, status in JOB_STATUS.items()} | {
    Status.PREPROCESSING: TaskState.RUNNING,
    Status.POSTPROCESSING: TaskState.RUNNING,
}
NEXT: dict[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset({TaskState.CLAIMED, TaskState.CANCELLED}),
    TaskState.CLAIMED: frozenset({TaskState.RUNNING, TaskState.CANCELLED}),
    TaskState.RUNNING: frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED}),
    TaskState.DONE: frozenset({TaskState.PENDING}),
    TaskState.FAILED: frozenset({TaskState.PENDING, TaskState.CANCELLED}),
    TaskState.CANCELLED: frozenset({TaskState.PENDING}),
}


def state_of(status: Status) -> TaskState:
    return _STATE[status]


def job_statuses(state: TaskState) -> frozenset[Status]:
    """The job statuses a task in `state` may have."""
    return frozenset(status for status, s in _STATE.items() if s is state)


def check_transition(current: TaskState, to: TaskState) -> None:
    if to not in NEXT[current]:
        allowed = ", ".join(sorted(NEXT[current]))
        raise IllegalTransition(f"a task cannot go from {current} to {to} (only to {allowed})")


class PipelineNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"pipeline {name!r} not found")


class PipelineExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"pipeline {name!r} already exists")


class TaskNotFound(NotFound):
    def __init__(self, pipeline: str, task_input_id: str) -> None:
        super().__init__(f"no task {task_input_id} in pipeline {pipeline!r}")


@dataclass(frozen=True, slots=True)
class Pipeline:
    name: str
    uri: str
    version: str
    lease_seconds: int | None = None  # requeue a task silent for this long; None: never

    @property
    def namespace(self) -> str:
        return NAMESPACE_PREFIX + self.name


def pipeline_name(namespace: str) -> str:
    return namespace.removeprefix(NAMESPACE_PREFIX)


@dataclass(frozen=True, slots=True)
class Task:
    pipeline: Pipeline
    task_input_id: str
    task_input: Any
    status: TaskState
    job_id: int
    updated_at: datetime | None = None


def new_task(pipeline: Pipeline, task_input: Any, by: str, now: datetime) -> NewJob:
    """The job of a new task of `pipeline`."""
    spec = JobSpec(
        app=App(),
        handler=Handler(image_url=pipeline.uri),
        meta=Meta(
            job_id=0,  # no DECODE user-side job: nothing is forwarded for tasks
            date_created=now.isoformat(),
            extra={"porch": {"pipeline": pipeline.name, "task_input": task_input}},
        ),
    )
    key = JobKey(pipeline.namespace, definition_key(task_input), KeyScope.FOREVER)
    return NewJob(
        spec,
        UploadPaths("", "", ""),
        environment=Environment.PIPELINE,
        key=key,
        owner=by,
    )


def task_of(job: Job, pipeline: Pipeline) -> Task:
    assert job.key is not None, "a task's job has a key"
    task_input = job.spec.meta.extra.get("porch", {}).get("task_input")
    return Task(pipeline, job.key.key, task_input, state_of(job.status), job.id, job.updated_at)


def move_task(job: Job, to: TaskState, by: str, now: datetime, *, lease: bool) -> JobEvent | None:
    """Apply a status update to a task's job; None when nothing changes but the lease."""
    current = state_of(job.status)
    if to is current:
        if lease and job.status.active:
            job.last_seen = now
        return None
    check_transition(current, to)
    if to is TaskState.PENDING:
        return job.rerun(by, now, notify=False)
    return job.advance(JOB_STATUS[to], by, now, lease=lease)
