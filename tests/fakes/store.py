"""The in-memory queue: the reference the SQL adapters are held to by the contract suites.

One object serves the four queue ports (JobStore, EventLog, Outbox, Health), as the SQL
adapters serve them from one database."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from domain.errors import ConcurrentUpdate, Conflict, JobNotFound
from domain.jobs import Job, JobEvent, NewJob, Report, Status
from domain.limits import check_new_job, check_offer, check_report
from domain.matching import WorkerOffer, claim_order, matches
from domain.pipelines.keys import JobKey, KeyScope
from domain.transfers import Backlog, Retry, StatusUpdate


class InMemoryJobStore:
    def __init__(self, *, outbox: bool = True) -> None:
        self._jobs: dict[int, Job] = {}
        self._events: list[JobEvent] = []
        self._outbox: dict[int, tuple[StatusUpdate, datetime]] = {}
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._with_outbox = outbox

    def _record(self, job: Job, event: JobEvent | None, *, log: bool = True) -> None:
        if event is None:
            return
        if log:
            self._events.append(event)
        if self._with_outbox and event.notify:
            message = StatusUpdate(
                message_id=next(self._message_ids),
                job_id=job.id,
                user_job_id=job.spec.meta.job_id,
                status=event.to_status,
                runtime_details=event.details,
                created_at=event.at,
            )
            self._outbox[message.message_id] = (message, event.at)

    async def add(self, new: NewJob, now: datetime) -> Job:
        check_new_job(new)
        return (await self.add_once(new, now))[0]

    async def add_once(self, new: NewJob, now: datetime) -> tuple[Job, bool]:
        check_new_job(new)
        holder = self._holder(new.key)
        if holder is not None:
            return holder.snapshot(), False
        job = Job.create(next(self._ids), new, now)
        self._jobs[job.id] = job
        return job.snapshot(), True

    def _holder(self, key: JobKey | None, but: int | None = None) -> Job | None:
        """The job holding `key` (the rule of `KeyScope`, as the SQL unique index)."""
        if key is None:
            return None
        for job in self._jobs.values():
            if job.id == but or job.key is None:
                continue
            same = (job.key.namespace, job.key.key) == (key.namespace, key.key)
            live = job.key.scope is KeyScope.FOREVER or not job.status.terminal
            if same and live:
                return job
        return None

    async def rerun(self, job: Job, event: JobEvent) -> None:
        if self._holder(job.key, but=job.id) is not None:
            raise Conflict(f"job {job.id} cannot re-run: another job holds its key")
        await self.save(job, event)

    async def get(self, job_id: int) -> Job:
        try:
            return self._jobs[job_id].snapshot()
        except KeyError:
            raise JobNotFound(job_id) from None

    async def claim(
        self, offer: WorkerOffer, limit: int, now: datetime, *, retry_different: bool
    ) -> list[Job]:
        check_offer(offer, limit)
        async with self._lock:
            candidates = [
                job
                for job in self._jobs.values()
                if matches(job, offer, now, retry_different=retry_different)
            ]
            candidates.sort(key=lambda job: claim_order(job, offer))
            claimed = []
            for job in candidates[:limit]:
                event = job.claim(offer.worker, now)
                job.version += 1
                self._record(job, event)
                claimed.append(job.snapshot())
            return claimed

    async def save(self, job: Job, event: JobEvent | None) -> None:
        current = self._jobs.get(job.id)
        if current is None:
            raise JobNotFound(job.id)
        if current.version != job.version:
            raise ConcurrentUpdate(f"job {job.id} changed meanwhile")
        self._jobs[job.id] = replace(job, version=job.version + 1)
        self._record(job, event)

    async def apply_report(self, report: Report) -> bool:
        check_report(report)
        job = self._jobs.get(report.job_id)
        if job is None or job.worker != report.worker or job.status not in report.accepted_from:
            return False
        from_status, details = job.status, job.runtime_details
        job.report(report.worker, report.status, report.at, report.details)
        job.version += 1
        self._record(job, report.event(from_status))
        self._record(job, report.news(from_status, details), log=False)
        return True

    async def held_by(self, worker: str) -> list[Job]:
        return [
            job.snapshot()
            for job in self._jobs.values()
            if job.worker == worker and job.status.active
        ]

    async def canceled_under(self, worker: str, limit: int) -> list[Job]:
        found = [
            job
            for job in self._jobs.values()
            if job.worker == worker and job.status is Status.CANCELED
        ]
        found.sort(key=lambda j: (j.updated_at or j.created_at, j.id), reverse=True)
        return [job.snapshot() for job in found[:limit]]

    async def expired(self, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        found = [job for job in self._jobs.values() if job.lease_expired(now, lease)]
        return [job.snapshot() for job in sorted(found, key=lambda j: j.id)[:limit]]

    async def events(self, job_id: int) -> list[JobEvent]:
        return [event for event in self._events if event.job_id == job_id]

    async def pending_updates(
        self, now: datetime, jobs: int, exclude: Collection[int] = ()
    ) -> list[StatusUpdate]:
        by_job: dict[int, list[tuple[StatusUpdate, datetime]]] = {}
        for message_id in sorted(self._outbox):
            message, due = self._outbox[message_id]
            if message.job_id not in exclude:
                by_job.setdefault(message.job_id, []).append((message, due))
        heads = sorted(
            (entries for entries in by_job.values() if entries[0][1] <= now),
            key=lambda entries: entries[0][0].message_id,
        )[:jobs]
        return [message for entries in heads for message, _ in entries]

    async def settle(self, delivered: Sequence[int], retries: Sequence[Retry]) -> None:
        for message_id in delivered:
            self._outbox.pop(message_id, None)
        for retry in retries:
            if retry.message_id in self._outbox:
                message, _ = self._outbox[retry.message_id]
                self._outbox[retry.message_id] = (
                    replace(message, attempts=message.attempts + 1),
                    retry.at,
                )

    async def drop_updates(self, job_id: int) -> None:
        for message_id in [m for m, (msg, _) in self._outbox.items() if msg.job_id == job_id]:
            del self._outbox[message_id]

    async def probe_active(self, now: datetime, changed_before: datetime) -> int:
        pending = {message.job_id for message, _ in self._outbox.values()}
        probed = [
            job
            for job in self._jobs.values()
            if job.status.active
            and job.id not in pending
            and job.updated_at is not None
            and job.updated_at < changed_before
        ]
        for job in probed:
            news = JobEvent(job.id, now, job.status, job.status, job.worker, job.runtime_details)
            self._record(job, news, log=False)
        return len(probed)

    async def backlog(self) -> Backlog:
        messages = [message for message, _ in self._outbox.values()]
        oldest = min((m.created_at for m in messages if m.created_at), default=None)
        return Backlog(len(messages), oldest)

    async def ping(self) -> None:
        return None

    def all_jobs(self) -> list[Job]:
        """Test helper: every job as stored."""
        return [job.snapshot() for job in self._jobs.values()]
