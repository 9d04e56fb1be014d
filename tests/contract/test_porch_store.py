"""The tracker's stores (PipelineStore, TaskStore) and its use cases on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.errors import IllegalTransition
from domain.jobs import Report, Status
from domain.pipelines.operations import OperatorView, SweepTaskLeases
from domain.pipelines.pipelines_uc import MintToken, PorchAuth, RevokeTokens
from domain.pipelines.porch import (
    Pipeline,
    PipelineExists,
    PipelineNotFound,
    TaskState,
    new_task,
)
from domain.pipelines.tasks_uc import AddTask, ClaimTasks, ListTasks, UpdateTask
from domain.pipelines.tokens import TokenGrant, token_hash
from tests.contract.sql_support import BACKENDS, event_log_of, porch_stores
from tests.contract.test_job_store import T0
from tests.fakes.clock import FakeClock

ADMIN = TokenGrant(0, "root", None)
PIPE = Pipeline("align", "https://example.org/align", "1.0")


@pytest.fixture(params=BACKENDS)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with porch_stores(str(request.param), tmp_path) as found:
        yield found


async def test_pipelines_are_unique_by_name_and_filtered(stores: Any) -> None:
    _, pipelines, _ = stores
    await pipelines.add_pipeline(PIPE, T0)
    await pipelines.add_pipeline(Pipeline("call", "u2", "2.0", lease_seconds=60), T0)
    with pytest.raises(PipelineExists):
        await pipelines.add_pipeline(PIPE, T0)
    assert await pipelines.pipeline("align") == PIPE
    assert (await pipelines.pipeline("call")).lease_seconds == 60
    with pytest.raises(PipelineNotFound):
        await pipelines.pipeline("nope")
    assert [p.name for p in await pipelines.pipelines()] == ["align", "call"]
    assert [p.name for p in await pipelines.pipelines(uri="u2")] == ["call"]
    assert await pipelines.pipelines(uri="u2", version="1.0") == []


async def test_tokens_are_kept_hashed_and_revocable(stores: Any) -> None:
    _, pipelines, _ = stores
    clock = FakeClock()
    await pipelines.add_pipeline(PIPE, T0)
    token = await MintToken(pipelines, clock)(ADMIN, "align", "wrapper")
    assert len(token) == 32
    grant = await PorchAuth(pipelines)(token)
    assert (grant.pipeline, grant.description) == ("align", "wrapper")
    assert await pipelines.grant(token_hash("0" * 32)) is None
    assert await RevokeTokens(pipelines, clock)(grant, "align", "wrapper") == 1
    assert await pipelines.grant(token_hash(token)) is None
    with pytest.raises(PipelineNotFound):
        await pipelines.add_token(token_hash("1" * 32), "x", "nope", T0)


async def test_a_task_is_added_once_and_found_by_its_input(stores: Any) -> None:
    jobs, pipelines, tasks = stores
    clock = FakeClock()
    await pipelines.add_pipeline(PIPE, T0)
    add = AddTask(pipelines, jobs, clock)
    first, created = await add(ADMIN, "align", {"run": 1, "lane": 2})
    again, created_again = await add(ADMIN, "align", {"lane": 2, "run": 1})
    assert (created, created_again) == (True, False)
    assert again.task_input_id == first.task_input_id
    assert again.status is TaskState.PENDING
    job = await tasks.task(PIPE.namespace, first.task_input_id)
    assert job is not None
    assert job.environment.value == "pipeline"
    listed = await ListTasks(pipelines, tasks)(ADMIN, None, TaskState.PENDING, 10, 0)
    assert [t.task_input for t in listed] == [{"run": 1, "lane": 2}]


async def test_claims_are_oldest_first_and_never_doubled(stores: Any) -> None:
    jobs, pipelines, tasks = stores
    await pipelines.add_pipeline(PIPE, T0)
    for i in range(24):
        await jobs.add_once(new_task(PIPE, {"i": i}, "t", T0), T0 + timedelta(seconds=i))
    first = await tasks.claim_tasks(PIPE.namespace, 2, "c0", T0, lease=False)
    assert [j.spec.meta.extra["porch"]["task_input"]["i"] for j in first] == [0, 1]
    batches = await asyncio.gather(
        *(tasks.claim_tasks(PIPE.namespace, 3, f"c{n}", T0, lease=False) for n in range(1, 9))
    )
    claimed = [j.id for batch in batches for j in batch]
    assert len(claimed) == len(set(claimed)) == 22
    assert await tasks.claim_tasks(PIPE.namespace, 5, "c9", T0, lease=False) == []
    events = await event_log_of(jobs).events(first[0].id)
    assert [(e.to_status, e.worker) for e in events] == [(Status.PULLED, "c0")]
    # the claimer is no worker: a DECODE worker of that name cannot report on the task
    assert first[0].worker is None
    report = Report(first[0].id, "c0", Status.RUNNING, T0 + timedelta(seconds=1))
    assert await jobs.apply_report(report) is False


async def test_transitions_are_checked_and_a_rerun_keeps_the_history(stores: Any) -> None:
    jobs, pipelines, tasks = stores
    clock = FakeClock()
    await pipelines.add_pipeline(PIPE, T0)
    task_input = {"run": 7}
    await AddTask(pipelines, jobs, clock)(ADMIN, "align", task_input)
    update = UpdateTask(pipelines, tasks, jobs, clock)
    with pytest.raises(IllegalTransition):
        await update(ADMIN, "align", task_input, TaskState.DONE)
    [claimed] = await ClaimTasks(pipelines, tasks, clock)(ADMIN, "align", 5)
    for state in (TaskState.RUNNING, TaskState.FAILED, TaskState.PENDING):
        task = await update(ADMIN, "align", task_input, state)
        assert task.status is state
    again = await ClaimTasks(pipelines, tasks, clock)(ADMIN, "align", 5)
    assert [t.task_input_id for t in again] == [claimed.task_input_id]
    await update(ADMIN, "align", task_input, TaskState.RUNNING)
    await update(ADMIN, "align", task_input, TaskState.DONE)
    with pytest.raises(IllegalTransition):
        await update(ADMIN, "align", task_input, TaskState.CANCELLED)
    events = await event_log_of(jobs).events(claimed.job_id)
    assert [e.to_status.value for e in events] == [
        "pulled",
        "running",
        "error",
        "queued",
        "pulled",
        "running",
        "finished",
    ]
    assert all(e.worker == ADMIN.who for e in events)


async def test_operator_view_and_leases(stores: Any) -> None:
    jobs, pipelines, tasks = stores
    clock = FakeClock()
    leased = Pipeline("lease", "u", "1", lease_seconds=30)
    await pipelines.add_pipeline(PIPE, T0)
    await pipelines.add_pipeline(leased, T0)
    add, update = AddTask(pipelines, jobs, clock), UpdateTask(pipelines, tasks, jobs, clock)
    for name in ("align", "lease"):
        for i in range(3):
            await add(ADMIN, name, {"i": i})
    await ClaimTasks(pipelines, tasks, clock)(ADMIN, "align", 2)
    await update(ADMIN, "align", {"i": 0}, TaskState.RUNNING)
    await update(ADMIN, "align", {"i": 0}, TaskState.FAILED)
    await ClaimTasks(pipelines, tasks, clock)(ADMIN, "lease", 1)
    clock.advance(120)
    report = await OperatorView(pipelines, tasks, clock)(
        ADMIN, timedelta(minutes=1), timedelta(hours=1), 10
    )
    counts = {(c.pipeline, c.status.value): c.count for c in report.counts}
    assert counts == {
        ("align", "FAILED"): 1,
        ("align", "CLAIMED"): 1,
        ("align", "PENDING"): 1,
        ("lease", "CLAIMED"): 1,
        ("lease", "PENDING"): 2,
    }
    assert sorted((t.pipeline.name, t.task_input["i"]) for t in report.long_running) == [
        ("align", 1),
        ("lease", 0),
    ]
    assert [(t.pipeline.name, t.task_input) for t in report.recently_failed] == [
        ("align", {"i": 0})
    ]
    # only the pipeline with a lease gets its silent task back
    assert await SweepTaskLeases(pipelines, tasks, jobs, clock)() == 1
    pending = await ListTasks(pipelines, tasks)(ADMIN, "lease", TaskState.PENDING, 10, 0)
    assert len(pending) == 3
    claimed = await ListTasks(pipelines, tasks)(ADMIN, "align", TaskState.CLAIMED, 10, 0)
    assert len(claimed) == 1
