"""What a person sees: one log line per event off a terminal; rich lines and bars on one."""

from __future__ import annotations

import logging

import pytest

from entrypoints.agent.display import LogDisplay, RichDisplay


def test_without_a_terminal_each_event_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    display = LogDisplay()
    with caplog.at_level(logging.INFO, logger="jobcloud.worker"):
        display.event(0, 12, "running (timeout 60 s)")
        display.event(1, None, "pull failed (HTTP 503); retry in 2 s")
    assert [r.getMessage() for r in caplog.records] == [
        "slot 0 job 12: running (timeout 60 s)",
        "slot 1: pull failed (HTTP 503); retry in 2 s",
    ]


def test_on_a_terminal_slots_get_live_lines_and_transfers_progress_bars() -> None:
    display = RichDisplay()
    try:
        display.event(0, 12, "preparing")
        progress = display.transfer(0, 12, "frames.tif")
        progress(512, 1024)
        progress(1024, 1024)  # done: the bar goes
        progress(1024, 1024)  # told again (an empty file's upload reads twice): no error
        empty = display.transfer(0, 12, "stderr.log")
        empty(0, 0)
        empty(0, 0)
        display.done(0)
        descriptions = [task.description for task in display._progress.tasks]
        assert descriptions == ["slot 0: idle"]
    finally:
        display.close()
