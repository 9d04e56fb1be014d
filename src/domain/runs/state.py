"""The state of one run on the agent: its phase, how it ended and what the API is told."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.errors import IllegalTransition
from domain.jobs import Status

LOG_TAIL_CHARS = 2000


class Phase(enum.StrEnum):
    PREPARING = "preparing"  # downloads, image pull
    RUNNING = "running"
    UPLOADING = "uploading"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"  # 404: the job is gone; nothing more is sent


_STATUS = {
    Phase.PREPARING: Status.PREPROCESSING,
    Phase.RUNNING: Status.RUNNING,
    Phase.UPLOADING: Status.POSTPROCESSING,
    Phase.FINISHED: Status.FINISHED,
    Phase.FAILED: Status.ERROR,
}
_NEXT = {
    Phase.PREPARING: {Phase.RUNNING, Phase.UPLOADING},
    Phase.RUNNING: {Phase.UPLOADING},
    Phase.UPLOADING: {Phase.FINISHED},
}
ENDED = frozenset({Phase.FINISHED, Phase.FAILED, Phase.CANCELED})


@dataclass(slots=True)
class Run:
    """Moves forward only; any phase may fail or be canceled; an ended run stays ended."""

    job_id: int
    phase: Phase = Phase.PREPARING
    exit_code: int | None = None
    reason: str | None = None  # why it failed (or was canceled)
    log_tail: str = ""

    @property
    def status(self) -> Status | None:
        """The status to report (and repeat as keep-alive); None once canceled."""
        return _STATUS.get(self.phase)

    @property
    def ended(self) -> bool:
        return self.phase in ENDED

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and self.reason is None

    def advance(self, to: Phase) -> None:
        if to not in _NEXT.get(self.phase, ()):
            raise IllegalTransition(f"run of job {self.job_id}: {self.phase} -> {to}")
        self.phase = to

    def exited(self, code: int, log_tail: str, timed_out: bool = False) -> None:
        """The process is over: what it returned; the upload follows either way."""
        self.exit_code = code
        self.log_tail = log_tail[-LOG_TAIL_CHARS:]
        if timed_out:
            self.reason = "run timeout"
        elif code != 0:
            self.reason = f"exit code {code}"

    def note(self, problem: str) -> None:
        """Something went wrong that makes the run an error, without ending it yet."""
        self.reason = self.reason or problem

    def fail(self, reason: str) -> None:
        if not self.ended:
            self.reason = self.reason or reason
            self.phase = Phase.FAILED

    def cancel(self, reason: str = "the API answered 404: job canceled or reassigned") -> None:
        if not self.ended:
            self.reason = reason
            self.phase = Phase.CANCELED

    def conclude(self) -> Status:
        """After the upload: finished on a clean exit, else error."""
        if self.succeeded:
            self.advance(Phase.FINISHED)
        else:
            self.fail(self.reason or "no exit code")
        return Status.FINISHED if self.phase is Phase.FINISHED else Status.ERROR

    def runtime_details(self) -> str:
        """exit code, reason and the log tail, as DECODE's fetcher reports them."""
        parts = []
        if self.exit_code is not None:
            parts.append(f"exit_code: {self.exit_code}")
        if self.reason:
            parts.append(f"reason: {self.reason}")
        if self.log_tail:
            parts.append(f"log tail:\n{self.log_tail}")
        return "\n".join(parts)
