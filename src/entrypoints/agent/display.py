"""What a person sees: on a terminal a live line per slot and progress bars for transfers
(rich); otherwise one log line per event."""

from __future__ import annotations

import logging
import sys
from typing import Protocol

from domain.runs.ports import Progress

log = logging.getLogger("jobcloud.worker")


class Display(Protocol):
    def event(self, slot: int, job_id: int | None, message: str) -> None: ...

    def transfer(self, slot: int, job_id: int, name: str) -> Progress: ...

    def done(self, slot: int) -> None: ...

    def close(self) -> None: ...


class LogDisplay:
    """One log line per event; transfers are logged when they end."""

    def event(self, slot: int, job_id: int | None, message: str) -> None:
        log.info("slot %d%s: %s", slot, f" job {job_id}" if job_id else "", message)

    def transfer(self, slot: int, job_id: int, name: str) -> Progress:
        def progress(done: int, total: int | None) -> None:
            if total is not None and done >= total:
                log.debug("slot %d job %d: %s: %d bytes", slot, job_id, name, done)

        return progress

    def done(self, slot: int) -> None:
        """Nothing to tidy: lines are already written."""

    def close(self) -> None:
        """Nothing to close."""


class RichDisplay:
    """A live line per slot, a progress bar per transfer in flight."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self._console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=self._console,
        )
        self._slots: dict[int, object] = {}
        self._progress.start()

    def _line(self, slot: int) -> object:
        if slot not in self._slots:
            self._slots[slot] = self._progress.add_task(f"slot {slot}: idle", total=None)
        return self._slots[slot]

    def event(self, slot: int, job_id: int | None, message: str) -> None:
        text = f"slot {slot}{f' job {job_id}' if job_id else ''}: {message}"
        self._progress.update(self._line(slot), description=text)  # type: ignore[arg-type]
        self._progress.console.log(text)

    def transfer(self, slot: int, job_id: int, name: str) -> Progress:
        task = self._progress.add_task(f"  job {job_id}: {name}", total=None)
        ended = False

        def progress(done: int, total: int | None) -> None:
            nonlocal ended
            if ended:  # a retried transfer starts again: a new bar is not worth it
                return
            self._progress.update(task, completed=done, total=total)
            if total is not None and done >= total:
                ended = True
                self._progress.remove_task(task)

        return progress

    def done(self, slot: int) -> None:
        self._progress.update(self._line(slot), description=f"slot {slot}: idle")  # type: ignore[arg-type]

    def close(self) -> None:
        self._progress.stop()


def make_display() -> Display:
    return RichDisplay() if sys.stderr.isatty() else LogDisplay()
