"""StatusSink in-process: the queue's status changes reach the user's job in the same
database, without HTTP (the embedded default). A queue job that no user job owns (enqueued
through POST /_jobs by a remote user API) is simply passed over.

The updates being delivered at once are applied together (group commit: `Batcher`): one
transaction of a few statements for all of them instead of one transaction each, which on a
server busy with workers' requests is what let the user side fall behind."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.sql.batch import Batcher, Failed, each_alone
from adapters.sql.errors import outage_cause
from domain.errors import DomainError
from domain.transfers import StatusUpdate
from domain.userjobs.model import UserJob, UserJobNotFound
from domain.userjobs.use_cases import ApplyUserStatus


class InProcessStatusSink:
    def __init__(self, apply: ApplyUserStatus) -> None:
        self._apply = apply
        self._batch: Batcher[StatusUpdate, UserJob | None] = Batcher(self._apply_batch, key=_job_id)

    async def send(self, update: StatusUpdate) -> None:
        try:
            await self._batch(update)
        except UserJobNotFound:
            return

    async def _apply_batch(self, updates: Sequence[StatusUpdate]) -> list[UserJob | Failed | None]:
        """One transaction for the batch; should it fail for a reason one update can cause,
        halves again, so that the others are applied (`each_alone`)."""
        outcomes = await each_alone(self._apply.from_queue, updates, splittable=_not_outage)
        return [Failed(o) if isinstance(o, DomainError) else o for o in outcomes]


def _job_id(update: StatusUpdate) -> int:
    return update.job_id


def _not_outage(exc: Exception) -> bool:
    return outage_cause(exc) is None
