"""Use cases of the tracker's tasks: add (once), update (checked transitions), claim, list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.errors import ConcurrentUpdate, Forbidden
from domain.jobs import Job, JobEvent, Status
from domain.pipelines.history import Attempt, attempts_of
from domain.pipelines.keys import definition_key
from domain.pipelines.porch import (
    Pipeline,
    Task,
    TaskNotFound,
    TaskState,
    job_statuses,
    move_task,
    new_task,
    pipeline_name,
    task_of,
)
from domain.pipelines.ports import PipelineStore, TaskStore
from domain.pipelines.tokens import TokenGrant
from domain.ports import Clock, EventLog, JobStore

_ATTEMPTS = 5
MAX_PAGE = 10_000


class AddTask:
    """201 new, or the existing task with its current status (run once, forever)."""

    def __init__(self, pipelines: PipelineStore, jobs: JobStore, clock: Clock) -> None:
        self._pipelines = pipelines
        self._jobs = jobs
        self._clock = clock

    async def __call__(self, grant: TokenGrant, name: str, task_input: Any) -> tuple[Task, bool]:
        grant.require_pipeline(name)
        pipeline = await self._pipelines.pipeline(name)
        new = new_task(pipeline, task_input, grant.who, self._clock.now())
        job, created = await self._jobs.add_once(new, self._clock.now())
        return task_of(job, pipeline), created


class UpdateTask:
    """Set a task's status (found by its pipeline and the hash of its task_input)."""

    def __init__(
        self, pipelines: PipelineStore, tasks: TaskStore, jobs: JobStore, clock: Clock
    ) -> None:
        self._pipelines = pipelines
        self._tasks = tasks
        self._jobs = jobs
        self._clock = clock

    async def __call__(self, grant: TokenGrant, name: str, task_input: Any, to: TaskState) -> Task:
        grant.require_pipeline(name)
        pipeline = await self._pipelines.pipeline(name)
        key = definition_key(task_input)
        for attempt in range(_ATTEMPTS):
            job = await self._tasks.task(pipeline.namespace, key)
            if job is None:
                raise TaskNotFound(name, key)
            try:
                await self._apply(job, to, grant, pipeline)
            except ConcurrentUpdate:
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            return task_of(job, pipeline)
        raise AssertionError("unreachable")

    async def _apply(self, job: Job, to: TaskState, grant: TokenGrant, pipeline: Pipeline) -> None:
        leased = pipeline.lease_seconds is not None
        ended = job.status.terminal
        event = move_task(job, to, grant.who, self._clock.now(), lease=leased)
        if event is not None and ended and event.to_status is Status.QUEUED:
            await self._jobs.rerun(job, event)
        elif event is not None or leased:
            await self._jobs.save(job, event)


class ClaimTasks:
    """Up to `limit` pending tasks of the pipeline, oldest first, claimed atomically."""

    def __init__(self, pipelines: PipelineStore, tasks: TaskStore, clock: Clock) -> None:
        self._pipelines = pipelines
        self._tasks = tasks
        self._clock = clock

    async def __call__(self, grant: TokenGrant, name: str, limit: int) -> list[Task]:
        grant.require_pipeline(name)
        pipeline = await self._pipelines.pipeline(name)
        jobs = await self._tasks.claim_tasks(
            pipeline.namespace,
            limit,
            grant.who,
            self._clock.now(),
            lease=pipeline.lease_seconds is not None,
        )
        return [task_of(job, pipeline) for job in jobs]


class ListTasks:
    """A page of tasks, oldest first: of one pipeline, or of every pipeline the token may
    see (an admin: all; a pipeline's token: its own)."""

    def __init__(self, pipelines: PipelineStore, tasks: TaskStore) -> None:
        self._pipelines = pipelines
        self._tasks = tasks

    async def __call__(
        self,
        grant: TokenGrant,
        name: str | None,
        state: TaskState | None,
        limit: int,
        offset: int,
    ) -> list[Task]:
        if grant.pipeline is not None:
            if name is not None and name != grant.pipeline:
                raise Forbidden(f"this token cannot be used for pipeline {name!r}")
            name = grant.pipeline
        namespace = None
        if name is not None:
            namespace = (await self._pipelines.pipeline(name)).namespace
        statuses = job_statuses(state) if state is not None else None
        jobs = await self._tasks.tasks(namespace, statuses, min(limit, MAX_PAGE), offset)
        return await tasks_of(self._pipelines, jobs)


async def tasks_of(pipelines: PipelineStore, jobs: Sequence[Job]) -> list[Task]:
    by_name = {p.name: p for p in await pipelines.pipelines()}
    return [
        task_of(job, by_name[pipeline_name(job.key.namespace)])
        for job in jobs
        if job.key is not None and pipeline_name(job.key.namespace) in by_name
    ]


@dataclass(frozen=True, slots=True)
class TaskHistory:
    task: Task
    attempts: list[Attempt]
    events: list[JobEvent]  # every change: when, from, to, which token


class GetTaskHistory:
    """A task's attempts and every change of it (a pipeline's token: its own tasks only)."""

    def __init__(self, pipelines: PipelineStore, tasks: TaskStore, events: EventLog) -> None:
        self._pipelines = pipelines
        self._tasks = tasks
        self._events = events

    async def __call__(self, grant: TokenGrant, name: str, task_input_id: str) -> TaskHistory:
        grant.require_pipeline(name)
        pipeline = await self._pipelines.pipeline(name)
        job = await self._tasks.task(pipeline.namespace, task_input_id)
        if job is None:
            raise TaskNotFound(name, task_input_id)
        events = await self._events.events(job.id)
        return TaskHistory(task_of(job, pipeline), attempts_of(job, events), events)
