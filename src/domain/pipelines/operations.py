"""What an operator reads (tasks per pipeline and status, long-running tasks, recently failed
tasks) and the optional lease of a pipeline's tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import ConcurrentUpdate
from domain.jobs import Status
from domain.pipelines.porch import Task, TaskState, pipeline_name, state_of
from domain.pipelines.ports import PipelineStore, TaskStore
from domain.pipelines.tasks_uc import tasks_of
from domain.pipelines.tokens import TokenGrant
from domain.ports import Clock, JobStore

LEASE_EXPIRED = "lease expired"


@dataclass(frozen=True, slots=True)
class PipelineCount:
    pipeline: str
    status: TaskState
    count: int


@dataclass(frozen=True, slots=True)
class OperatorReport:
    at: datetime
    counts: list[PipelineCount]
    long_running: list[Task]  # claimed or running, unchanged for longer than `running_for`
    recently_failed: list[Task]  # failed within `failed_within`, latest first
    running_for: timedelta
    failed_within: timedelta


class OperatorView:
    def __init__(self, pipelines: PipelineStore, tasks: TaskStore, clock: Clock) -> None:
        self._pipelines = pipelines
        self._tasks = tasks
        self._clock = clock

    async def __call__(
        self, grant: TokenGrant, running_for: timedelta, failed_within: timedelta, limit: int
    ) -> OperatorReport:
        grant.require_admin()
        now = self._clock.now()
        totals: dict[tuple[str, TaskState], int] = {}
        for row in await self._tasks.counts():
            key = (pipeline_name(row.namespace), state_of(row.status))
            totals[key] = totals.get(key, 0) + row.count
        counts = [PipelineCount(p, s, n) for (p, s), n in sorted(totals.items())]
        long_running = await self._tasks.active_since(now - running_for, limit)
        failed = await self._tasks.ended_since(Status.ERROR, now - failed_within, limit)
        return OperatorReport(
            now,
            counts,
            await tasks_of(self._pipelines, long_running),
            await tasks_of(self._pipelines, failed),
            running_for,
            failed_within,
        )


class SweepTaskLeases:
    """Pipelines with a lease: a claimed or running task whose client stayed silent (no
    update) for longer goes back to PENDING, as a new attempt."""

    def __init__(
        self, pipelines: PipelineStore, tasks: TaskStore, jobs: JobStore, clock: Clock
    ) -> None:
        self._pipelines = pipelines
        self._tasks = tasks
        self._jobs = jobs
        self._clock = clock

    async def __call__(self, limit: int = 100) -> int:
        now, swept = self._clock.now(), 0
        for pipeline in await self._pipelines.pipelines():
            if pipeline.lease_seconds is None:
                continue
            before = now - timedelta(seconds=pipeline.lease_seconds)
            for job in await self._tasks.silent(pipeline.namespace, before, limit):
                event = job.advance(Status.QUEUED, LEASE_EXPIRED, now, lease=False)
                try:
                    await self._jobs.save(job, event)
                except ConcurrentUpdate:
                    continue  # the client spoke meanwhile
                swept += 1
        return swept
