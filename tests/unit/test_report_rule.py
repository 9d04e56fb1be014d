"""`Report` (the rule as data, which stores apply in one step) agrees with `Job.report`."""

from __future__ import annotations

from datetime import timedelta
from itertools import product

import pytest

from domain.errors import DomainError
from domain.jobs import Job, Report, Status
from tests.unit.factories import T0, job

W, OTHER = "gpu-1", "gpu-2"
LATER = T0 + timedelta(seconds=30)


def held(status: Status, worker: str | None = W) -> Job:
    j = job()
    j.status, j.worker, j.last_seen, j.runtime_details = status, worker, T0, "old"
    return j


@pytest.mark.parametrize(
    ("current", "reported", "reporter", "details"),
    list(product(Status, Status, [W, OTHER], [None, "new"])),
)
def test_report_applies_exactly_when_job_report_does(
    current: Status, reported: Status, reporter: str, details: str | None
) -> None:
    report = Report(1, reporter, reported, LATER, details)
    as_data = reporter == W and current in report.accepted_from

    j = held(current)
    try:
        event = j.report(reporter, reported, LATER, details)
    except DomainError:
        assert not as_data
        return
    if j.ignores_report(reporter, reported):  # not applied as data: the use case says 204
        assert not as_data
        assert (event, j) == (None, held(current))
        return
    assert as_data
    assert event == report.event(current)
    # What a store writes for an applied report, column by column:
    assert j.status is reported
    assert j.last_seen == LATER
    assert j.runtime_details == (details if details is not None else "old")
    assert j.updated_at == (LATER if current is not reported else job().updated_at)


def test_a_keep_alive_records_no_event_and_a_move_one() -> None:
    assert Report(1, W, Status.RUNNING, LATER).event(Status.RUNNING) is None
    moved = Report(1, W, Status.RUNNING, LATER, "ok").event(Status.PULLED)
    assert moved is not None
    assert (moved.from_status, moved.to_status, moved.worker, moved.details, moved.notify) == (
        Status.PULLED,
        Status.RUNNING,
        W,
        "ok",
        True,
    )


def test_queued_and_canceled_jobs_accept_no_report() -> None:
    for status in Status:
        accepted = Report(1, W, status, LATER).accepted_from
        assert Status.QUEUED not in accepted
        assert Status.CANCELED not in accepted
