"""The state of a run on the agent."""

from __future__ import annotations

import pytest

from domain.errors import IllegalTransition
from domain.jobs import Status
from domain.runs.state import LOG_TAIL_CHARS, Phase, Run


def test_a_clean_run_reports_each_status_then_finished() -> None:
    run = Run(1)
    assert run.status is Status.PREPROCESSING
    run.advance(Phase.RUNNING)
    assert run.status is Status.RUNNING
    run.exited(0, "ok\n")
    run.advance(Phase.UPLOADING)
    assert run.status is Status.POSTPROCESSING
    assert run.conclude() is Status.FINISHED
    assert run.ended
    assert run.runtime_details() == "exit_code: 0\nlog tail:\nok\n"


def test_a_nonzero_exit_is_an_error_with_the_code_and_a_bounded_tail() -> None:
    run = Run(1, phase=Phase.RUNNING)
    run.exited(3, "x" * (LOG_TAIL_CHARS * 2) + "END")
    run.advance(Phase.UPLOADING)
    assert run.conclude() is Status.ERROR
    details = run.runtime_details()
    assert details.startswith("exit_code: 3\nreason: exit code 3\nlog tail:\n")
    assert details.endswith("END")
    assert len(run.log_tail) == LOG_TAIL_CHARS


def test_a_timeout_is_an_error_saying_so() -> None:
    run = Run(1, phase=Phase.RUNNING)
    run.exited(-15, "", timed_out=True)
    run.advance(Phase.UPLOADING)
    assert run.conclude() is Status.ERROR
    assert "reason: run timeout" in run.runtime_details()


def test_a_problem_noted_during_upload_turns_a_clean_exit_into_an_error() -> None:
    run = Run(1, phase=Phase.UPLOADING, exit_code=0)
    run.note("output 'x' was not written")
    assert run.conclude() is Status.ERROR
    assert "output 'x' was not written" in run.runtime_details()


def test_runs_move_forward_only() -> None:
    run = Run(1, phase=Phase.UPLOADING)
    with pytest.raises(IllegalTransition):
        run.advance(Phase.RUNNING)


def test_a_canceled_run_reports_nothing_more_and_stays_canceled() -> None:
    run = Run(1, phase=Phase.RUNNING)
    run.cancel()
    assert run.status is None
    assert run.ended
    run.fail("late failure")
    assert run.phase is Phase.CANCELED
    assert run.reason is not None
    assert "404" in run.reason
