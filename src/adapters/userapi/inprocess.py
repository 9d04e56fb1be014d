"""StatusSink in-process: the queue's status changes reach the user's job in the same
database, without HTTP (the embedded default). A queue job that no user job owns (enqueued
through POST /_jobs by a remote user API) is simply passed over."""

from __future__ import annotations

from domain.transfers import StatusUpdate
from domain.userjobs.model import UserJobNotFound
from domain.userjobs.use_cases import ApplyUserStatus


class InProcessStatusSink:
    def __init__(self, apply: ApplyUserStatus) -> None:
        self._apply = apply

    async def send(self, update: StatusUpdate) -> None:
        try:
            await self._apply(update.status, update.runtime_details, queue_job_id=update.job_id)
        except UserJobNotFound:
            return
