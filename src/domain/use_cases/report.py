from __future__ import annotations

from domain.errors import ConcurrentUpdate, NotAssigned
from domain.jobs import Report, Status
from domain.ports import Clock, JobStore
from domain.workers import Principal

_ATTEMPTS = 5


class ReportStatus:
    """A worker reports its job's status; the same status again is a keep-alive."""

    def __init__(self, store: JobStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def __call__(
        self, principal: Principal, job_id: int, status: Status, details: str | None
    ) -> None:
        worker = principal.require_worker()
        report = Report(job_id, worker, status, self._clock.now(), details)
        if await self._store.apply_report(report):
            return  # the common case: one round trip to the store
        # Refused: read the job, and the domain says why (404, 409). Unless the job changed
        # between the two steps and the report is fine after all: then save it as usual.
        for attempt in range(_ATTEMPTS):
            job = await self._store.get(job_id)
            event = job.report(worker, status, report.at, details)
            if job.ignores_report(worker, status):
                return  # accepted, and nothing changes
            try:
                await self._store.save(job, event)
            except ConcurrentUpdate:
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            return


class JobStatus:
    """The status of a job the worker holds or held; 404 to any other worker."""

    def __init__(self, store: JobStore) -> None:
        self._store = store

    async def __call__(self, principal: Principal, job_id: int) -> Status:
        worker = principal.require_worker()
        job = await self._store.get(job_id)
        if job.worker != worker:
            raise NotAssigned(job_id)
        return job.status
