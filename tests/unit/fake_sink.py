"""A hand-written StatusSink: records deliveries, fails on demand."""

from __future__ import annotations

from collections.abc import Callable

from domain.errors import ConcurrentUpdate, NotFound, Rejected, Unavailable
from domain.transfers import StatusUpdate

# "ok", "down" (Unavailable), "gone" (NotFound), "refused" (Rejected), "changed"
# (ConcurrentUpdate: the user's job changed meanwhile) or "bug" (a RuntimeError)
Outcome = str


class FakeSink:
    def __init__(self, outcome: Callable[[StatusUpdate], Outcome] = lambda u: "ok") -> None:
        self.outcome = outcome
        self.attempts: list[StatusUpdate] = []
        self.delivered: list[StatusUpdate] = []

    async def send(self, update: StatusUpdate) -> None:
        self.attempts.append(update)
        result = self.outcome(update)
        if result == "down":
            raise Unavailable("user API down")
        if result == "refused":
            raise Rejected(f"user API does not know status {update.status}")
        if result == "gone":
            raise NotFound(f"user job {update.user_job_id} gone")
        if result == "changed":
            raise ConcurrentUpdate(f"user job {update.user_job_id} changed meanwhile")
        if result == "bug":
            raise RuntimeError("a bug in the sink")
        self.delivered.append(update)

    def delivered_by_job(self) -> dict[int, list[str]]:
        by_job: dict[int, list[str]] = {}
        for update in self.delivered:
            by_job.setdefault(update.user_job_id, []).append(update.status.value)
        return by_job
