"""The job lifecycle (domain/jobs.py): claim, reports, keep-alives, leases, cancel."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from itertools import combinations

import pytest

from domain.errors import IllegalTransition, NotAssigned
from domain.jobs import ACTIVE, MAX_RETRIES_REACHED, TERMINAL, Job, Status
from tests.unit.factories import T0, job

W, OTHER = "gpu-1", "gpu-2"
LEASE = timedelta(seconds=300)
LINE = [Status.PULLED, Status.PREPROCESSING, Status.RUNNING, Status.POSTPROCESSING]


def pulled(worker: str = W) -> Job:
    j = job()
    j.claim(worker, T0)
    return j


def in_status(status: Status, worker: str = W) -> Job:
    """A job the worker holds, moved (by the worker) to `status`."""
    j = pulled(worker)
    if status is not Status.PULLED:
        j.report(worker, status, T0)
    return j


def test_a_new_job_is_queued_and_unheld() -> None:
    j = job()
    assert (j.status, j.worker, j.attempts, j.last_seen) == (Status.QUEUED, None, 0, None)


def test_claim_moves_to_pulled_records_the_worker_and_starts_the_lease() -> None:
    j = job()
    event = j.claim(W, T0)
    assert (j.status, j.worker, j.last_seen, j.attempts) == (Status.PULLED, W, T0, 1)
    assert j.tried_by == {W}
    assert (event.from_status, event.to_status, event.worker, event.at) == (
        Status.QUEUED,
        Status.PULLED,
        W,
        T0,
    )
    assert event.notify


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.QUEUED])
def test_only_a_queued_job_can_be_claimed(status: Status) -> None:
    j = job()
    j.status = status
    with pytest.raises(IllegalTransition):
        j.claim(W, T0)


@pytest.mark.parametrize(
    ("current", "new"),
    [*combinations([*LINE, Status.FINISHED], 2), *((s, Status.ERROR) for s in LINE)],
)
def test_forward_moves_including_skips_are_allowed(current: Status, new: Status) -> None:
    j = in_status(current)
    later = T0 + timedelta(seconds=10)
    event = j.report(W, new, later, "details")
    assert j.status is new
    assert event is not None
    assert (event.from_status, event.to_status, event.worker, event.details) == (
        current,
        new,
        W,
        "details",
    )
    assert j.last_seen == later
    assert j.worker == W


@pytest.mark.parametrize(("new", "current"), list(combinations(LINE, 2)))
def test_backward_moves_are_illegal(new: Status, current: Status) -> None:
    j = in_status(current)
    with pytest.raises(IllegalTransition, match=f"from {current} to {new}"):
        j.report(W, new, T0)
    assert j.status is current


@pytest.mark.parametrize("current", LINE)
@pytest.mark.parametrize("new", [Status.QUEUED, Status.CANCELED])
def test_workers_cannot_report_queued_or_canceled(current: Status, new: Status) -> None:
    j = in_status(current)
    with pytest.raises(IllegalTransition):
        j.report(W, new, T0)
    assert j.status is current


@pytest.mark.parametrize("current", [*LINE, Status.FINISHED, Status.ERROR])
def test_the_same_status_is_a_keep_alive(current: Status) -> None:
    j = in_status(current)
    before = (j.status, j.updated_at, j.attempts, j.worker)
    later = T0 + timedelta(seconds=42)
    assert j.report(W, current, later) is None
    assert j.last_seen == later
    assert (j.status, j.updated_at, j.attempts, j.worker) == before


def test_runtime_details_are_kept_from_moves_and_keep_alives() -> None:
    j = pulled()
    j.report(W, Status.RUNNING, T0, "epoch 1")
    assert j.runtime_details == "epoch 1"
    j.report(W, Status.RUNNING, T0, "epoch 2")
    assert j.runtime_details == "epoch 2"
    j.report(W, Status.RUNNING, T0, None)
    assert j.runtime_details == "epoch 2"


@pytest.mark.parametrize("current", LINE)
def test_another_worker_gets_not_assigned(current: Status) -> None:
    j = in_status(current)
    with pytest.raises(NotAssigned):
        j.report(OTHER, current, T0)
    with pytest.raises(NotAssigned):
        j.report(OTHER, Status.FINISHED, T0)
    assert j.status is current


def test_nobody_may_report_on_a_queued_job() -> None:
    with pytest.raises(NotAssigned):
        job().report(W, Status.RUNNING, T0)


def test_the_worker_of_a_requeued_job_gets_not_assigned() -> None:
    j = in_status(Status.RUNNING)
    j.expire(T0 + LEASE * 2, max_retries=2)
    assert j.status is Status.QUEUED
    with pytest.raises(NotAssigned):
        j.report(W, Status.RUNNING, T0 + LEASE * 2)


@pytest.mark.parametrize("current", LINE)
def test_the_worker_of_a_canceled_job_gets_not_assigned(current: Status) -> None:
    j = in_status(current)
    j.cancel(T0, "deleted by the user")
    for status in Status:
        with pytest.raises(NotAssigned, match="canceled"):
            j.report(W, status, T0)


def test_a_finished_job_is_never_left_by_a_report() -> None:
    j = in_status(Status.FINISHED)
    for status in Status:
        if status is Status.FINISHED:
            continue
        with pytest.raises(IllegalTransition):
            j.report(W, status, T0)
        assert j.status is Status.FINISHED


def test_the_holder_s_reports_on_its_job_in_error_change_nothing() -> None:
    """DECODE's fetcher reports `postprocessing` after `error`, then uploads its logs."""
    j = in_status(Status.ERROR)
    j.runtime_details = "exit 1"
    before = replace(j)
    for status in Status:
        if status is not Status.ERROR:
            assert j.ignores_report(W, status)
            assert j.report(W, status, T0 + LEASE, "later") is None
            assert j == before
    assert not j.ignores_report(OTHER, Status.RUNNING)
    with pytest.raises(NotAssigned):
        j.report(OTHER, Status.RUNNING, T0)


def test_the_holder_uploads_while_active_or_in_error_not_once_finished() -> None:
    for status in (*LINE, Status.ERROR):
        in_status(status).ensure_takes_uploads_from(W)
    with pytest.raises(IllegalTransition, match="finished"):
        in_status(Status.FINISHED).ensure_takes_uploads_from(W)
    canceled = in_status(Status.RUNNING)
    canceled.cancel(T0, "deleted by the user")
    with pytest.raises(NotAssigned, match="canceled"):
        canceled.ensure_takes_uploads_from(W)
    with pytest.raises(NotAssigned):
        in_status(Status.RUNNING).ensure_takes_uploads_from(OTHER)


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_terminal_states_are_never_left_by_cancel_or_expiry(terminal: Status) -> None:
    j = in_status(Status.RUNNING)
    j.status = terminal
    assert j.cancel(T0, "late") is None
    assert not j.lease_expired(T0 + LEASE * 10, LEASE)
    with pytest.raises(IllegalTransition):
        j.expire(T0 + LEASE * 10, max_retries=5)
    assert j.status is terminal


def test_the_lease_expires_strictly_after_the_timeout_since_the_last_report() -> None:
    j = pulled()
    assert not j.lease_expired(T0 + LEASE, LEASE)
    assert j.lease_expired(T0 + LEASE + timedelta(microseconds=1), LEASE)
    j.report(W, Status.RUNNING, T0 + LEASE)  # a report renews the lease
    assert not j.lease_expired(T0 + LEASE * 2, LEASE)
    j.report(W, Status.RUNNING, T0 + LEASE * 2)  # so does a keep-alive
    assert not j.lease_expired(T0 + LEASE * 3, LEASE)
    assert j.lease_expired(T0 + LEASE * 3 + timedelta(seconds=1), LEASE)


@pytest.mark.parametrize("status", [Status.QUEUED, *TERMINAL])
def test_only_active_jobs_have_a_lease(status: Status) -> None:
    j = in_status(Status.RUNNING)
    j.status = status
    assert not j.lease_expired(T0 + LEASE * 10, LEASE)


@pytest.mark.parametrize("max_retries", [0, 1, 2, 3])
def test_expiry_requeues_while_retries_remain_then_errors(max_retries: int) -> None:
    j = job()
    now = T0
    for attempt in range(1, max_retries + 2):
        j.claim(f"w{attempt}", now)
        assert j.attempts == attempt
        now += LEASE * 2
        event = j.expire(now, max_retries)
        assert (j.worker, j.last_seen) == (None, None)
        if attempt <= max_retries:
            assert (j.status, event.to_status, event.details) == (
                Status.QUEUED,
                Status.QUEUED,
                "lease expired",
            )
        else:
            assert (j.status, event.details) == (Status.ERROR, MAX_RETRIES_REACHED)
    assert j.attempts == max_retries + 1
    assert j.tried_by == {f"w{n}" for n in range(1, max_retries + 2)}


def test_expiry_event_names_the_silent_worker() -> None:
    j = in_status(Status.RUNNING)
    event = j.expire(T0 + LEASE * 2, max_retries=2)
    assert (event.from_status, event.worker) == (Status.RUNNING, W)


@pytest.mark.parametrize("status", [Status.QUEUED, *ACTIVE])
def test_cancel_ends_any_unfinished_job_silently_by_default(status: Status) -> None:
    j = job() if status is Status.QUEUED else in_status(status)
    event = j.cancel(T0 + timedelta(seconds=5), "deleted by the user")
    assert j.status is Status.CANCELED
    assert event is not None
    assert (event.from_status, event.to_status, event.details) == (
        status,
        Status.CANCELED,
        "deleted by the user",
    )
    assert not event.notify
    assert j.cancel(T0, "twice") is None


def test_cancel_may_notify_when_asked() -> None:
    event = job().cancel(T0, "by an admin", notify=True)
    assert event is not None
    assert event.notify


def test_a_canceled_job_cannot_be_claimed() -> None:
    j = job()
    j.cancel(T0, "x")
    with pytest.raises(IllegalTransition):
        j.claim(W, T0)


def test_snapshot_is_an_independent_copy() -> None:
    j = pulled()
    copy = j.snapshot()
    j.report(W, Status.RUNNING, T0)
    assert copy.status is Status.PULLED


def test_a_spec_survives_its_decode_document() -> None:
    from domain.jobs import App, FileKind, Handler, Hardware, JobSpec, Meta

    spec = JobSpec(
        app=App(cmd=("decode", "fit"), env={"SEED": "1"}),
        handler=Handler(
            image_url="img:1",
            files_down={"in.tif": "u/in.tif"},
            files_up={FileKind.OUTPUT: "out", FileKind.ARTIFACT: "art"},
        ),
        meta=Meta(job_id=7, date_created="2026-11-22", extra={"user": "alice", "n": 3}),
        hardware=Hardware(cpu_cores=4, gpu_model="A100"),
    )
    document = spec.document()
    assert document["meta"] == {"user": "alice", "n": 3, "job_id": 7, "date_created": "2026-11-22"}
    assert document["handler"]["files_up"] == {"output": "out", "artifact": "art"}
    assert JobSpec.from_document(document) == spec
