"""npg_porch's wire shapes (its pydantic models, as msgspec Structs) and their translation."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.params import PathParameter, QueryParameter

from adapters.wire.decode import NO_NUL
from domain import limits
from domain.errors import InvalidInput
from domain.pipelines.porch import Pipeline, Task, TaskState, state_of
from domain.pipelines.tasks_uc import TaskHistory

# Within what the store keeps (`domain.limits`): beyond, a 400 naming the field.
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=NO_NUL)]
QueryText = Annotated[str, QueryParameter(max_length=limits.NAME_MAX, pattern=NO_NUL)]
MaybeQueryText = Annotated[str | None, QueryParameter(max_length=limits.NAME_MAX, pattern=NO_NUL)]
PathText = Annotated[str, PathParameter(max_length=limits.NAME_MAX, pattern=NO_NUL)]


class TaskStateEnum(enum.StrEnum):
    """The statuses as npg_porch names its schema component: npg_porch_cli checks a status
    against `components.schemas.TaskStateEnum.enum` of the OpenAPI document."""

    PENDING = "PENDING"
    CLAIMED = "CLAIMED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class PipelineIn(msgspec.Struct):
    name: Name
    uri: Annotated[str, msgspec.Meta(max_length=1024, pattern=NO_NUL)] | None = None
    version: Name | None = None
    # beyond npg_porch
    lease_seconds: Annotated[int, msgspec.Meta(ge=1, le=limits.INT32_MAX)] | None = None


class PipelineOut(msgspec.Struct):
    name: str
    uri: str
    version: str


class TaskIn(msgspec.Struct):
    pipeline: PipelineIn
    task_input: dict[str, Any]
    status: str | None = None  # checked by `state`: 422 naming the field
    task_input_id: str | None = None  # set by the server; ignored, as npg_porch does

    def __post_init__(self) -> None:
        try:  # nesting, integer widths, no NUL: as a job's meta
            limits.check_document("task_input", self.task_input)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None  # msgspec: a 400 naming the field


class TaskOut(msgspec.Struct):
    pipeline: PipelineOut
    task_input_id: str
    task_input: dict[str, Any]
    status: TaskStateEnum


class TaskEventOut(msgspec.Struct):
    at: datetime
    from_status: TaskStateEnum | None
    to_status: TaskStateEnum
    by: str | None  # the token (`<pipeline or admin>:<description>#<id>`), or the lease


class TaskAttemptOut(msgspec.Struct):
    number: int
    started_at: datetime
    requested_by: str | None
    status: TaskStateEnum
    ended_at: datetime | None


class TaskHistoryOut(msgspec.Struct):
    task: TaskOut
    attempts: list[TaskAttemptOut]
    events: list[TaskEventOut]


class TokenOut(msgspec.Struct):
    name: str
    description: str
    token: str


class TokenRevoked(msgspec.Struct):
    name: str
    description: str
    revoked: int


def new_pipeline(body: PipelineIn) -> Pipeline:
    missing = [field for field in ("uri", "version") if getattr(body, field) is None]
    if missing:
        raise InvalidInput(f"{', '.join(missing)}: a pipeline needs a name, a uri and a version")
    assert body.uri is not None
    assert body.version is not None
    return Pipeline(body.name, body.uri, body.version, body.lease_seconds)


def pipeline_out(pipeline: Pipeline) -> PipelineOut:
    return PipelineOut(pipeline.name, pipeline.uri, pipeline.version)


def state(value: str | None, field: str = "status") -> TaskState:
    if value is None:
        raise InvalidInput(f"{field}: required")
    try:
        return TaskState(value.upper())
    except ValueError:
        allowed = ", ".join(s.value for s in TaskState)
        raise InvalidInput(f"{field}: {value!r} is not one of {allowed}") from None


def task_out(task: Task) -> TaskOut:
    return TaskOut(
        pipeline_out(task.pipeline),
        task.task_input_id,
        task.task_input,
        _wire(task.status),
    )


def _wire(state: TaskState) -> TaskStateEnum:
    return TaskStateEnum(state.value)


def history_out(history: TaskHistory) -> TaskHistoryOut:
    return TaskHistoryOut(
        task_out(history.task),
        [
            TaskAttemptOut(
                a.number, a.started_at, a.requested_by, _wire(state_of(a.status)), a.ended_at
            )
            for a in history.attempts
        ],
        [
            TaskEventOut(
                e.at,
                _wire(state_of(e.from_status)) if e.from_status else None,
                _wire(state_of(e.to_status)),
                e.worker,
            )
            for e in history.events
        ],
    )
