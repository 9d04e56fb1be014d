"""The tracker's rules: which status may follow which, how they map onto the job, tokens."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from domain.errors import Forbidden, IllegalTransition, NotAuthenticated
from domain.jobs import RERUN, Job, Status
from domain.pipelines.keys import definition_key
from domain.pipelines.porch import (
    JOB_STATUS,
    Pipeline,
    TaskState,
    check_transition,
    move_task,
    new_task,
    state_of,
    task_of,
)
from domain.pipelines.tokens import TokenGrant, new_token, token_hash
from tests.unit.factories import T0

S = TaskState
ALLOWED = {
    (S.PENDING, S.CLAIMED),
    (S.CLAIMED, S.RUNNING),
    (S.RUNNING, S.DONE),
    (S.RUNNING, S.FAILED),
    (S.PENDING, S.CANCELLED),
    (S.CLAIMED, S.CANCELLED),
    (S.RUNNING, S.CANCELLED),
    (S.FAILED, S.CANCELLED),
    (S.FAILED, S.PENDING),
    (S.CANCELLED, S.PENDING),
    (S.DONE, S.PENDING),
}
PIPE = Pipeline("align", "https://example.org/align", "1.0")


@pytest.mark.parametrize(("current", "to"), list(itertools.permutations(TaskState, 2)))
def test_only_the_documented_transitions(current: TaskState, to: TaskState) -> None:
    if (current, to) in ALLOWED:
        check_transition(current, to)
    else:
        with pytest.raises(IllegalTransition, match=f"from {current} to {to}"):
            check_transition(current, to)


def task_job(state: TaskState) -> Job:
    job = Job.create(1, new_task(PIPE, {"run": 1}, "t", T0), T0)
    job.status = JOB_STATUS[state]
    return job


@pytest.mark.parametrize(("current", "to"), sorted(ALLOWED))
def test_a_move_lands_on_the_mapped_job_status(current: TaskState, to: TaskState) -> None:
    job = task_job(current)
    event = move_task(job, to, "align:w#1", T0 + timedelta(seconds=1), lease=False)
    assert event is not None
    assert state_of(job.status) is to
    assert (event.from_status, event.to_status, event.worker) == (
        JOB_STATUS[current],
        JOB_STATUS[to],
        "align:w#1",
    )
    assert event.notify is False  # no DECODE user side to tell
    assert job.worker is None  # a tracker's client is no worker: none can report on it
    if to is TaskState.PENDING:
        assert event.details == RERUN
        assert (job.worker, job.attempts) == (None, 0)


def test_the_same_status_again_changes_nothing_but_the_lease() -> None:
    job = task_job(TaskState.RUNNING)
    assert move_task(job, TaskState.RUNNING, "w", T0, lease=False) is None
    assert job.last_seen is None
    assert move_task(job, TaskState.RUNNING, "w", T0, lease=True) is None
    assert job.last_seen == T0


def test_a_task_is_a_job_out_of_the_workers_reach() -> None:
    new = new_task(PIPE, {"b": 1, "a": "/x"}, "admin:root#1", T0)
    assert new.environment is not None
    assert new.environment.value == "pipeline"
    assert new.key is not None
    assert (new.key.namespace, new.key.key, new.key.scope.value) == (
        "porch/align",
        definition_key({"a": "/x", "b": 1}),
        "forever",
    )
    job = Job.create(9, new, T0)
    task = task_of(job, PIPE)
    assert (task.task_input, task.status, task.job_id) == ({"b": 1, "a": "/x"}, S.PENDING, 9)
    job.status, job.last_seen = Status.RUNNING, T0
    assert not job.lease_expired(T0 + timedelta(days=1), timedelta(seconds=1))


def test_tokens() -> None:
    token = new_token()
    assert len(token) == 32
    assert int(token, 16) >= 0
    assert token_hash(token) == token_hash(token.upper())
    assert len(token_hash(token)) == 64
    for bad in ("", "x" * 32, "0" * 31, "0" * 33):
        with pytest.raises(NotAuthenticated):
            token_hash(bad)
    admin, mine = TokenGrant(1, "root", None), TokenGrant(2, "w", "align")
    admin.require_admin()
    admin.require_pipeline("anything")
    mine.require_pipeline("align")
    with pytest.raises(Forbidden):
        mine.require_pipeline("call")
    with pytest.raises(Forbidden):
        mine.require_admin()
    assert mine.who == "align:w#2"
