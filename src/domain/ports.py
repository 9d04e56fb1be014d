"""The ports: what the domain needs from the outside world, in domain terms only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from domain.jobs import FileKind, Job, JobEvent, NewJob, Report
from domain.matching import WorkerOffer
from domain.transfers import Backlog, Retry, StatusUpdate, TransferRequest
from domain.workers import Principal


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class JobStore(Protocol):
    """Persistent jobs and claims. Every method is one transaction.

    The events of `save`/`claim`/`apply_report` are recorded with the job change, and those
    with `notify` also go to the outbox in that same transaction (when the store was built
    with an outbox): what `EventLog` and `Outbox` read back.
    """

    async def add(self, new: NewJob, now: datetime) -> Job:
        """The new job; with a key, as `add_once` (the job holding the key)."""
        ...

    async def add_once(self, new: NewJob, now: datetime) -> tuple[Job, bool]:
        """(the new job, True); or, when a job holds `new.key` (`KeyScope`), (that job,
        False). Decided by the store's unique index: one job under any concurrency."""
        ...

    async def rerun(self, job: Job, event: JobEvent) -> None:
        """Save a job `Job.rerun` put back in the queue (as `save`) and forget who tried it;
        Conflict when another job meanwhile took its key."""
        ...

    async def get(self, job_id: int) -> Job:
        """The job, or JobNotFound."""
        ...

    async def claim(
        self, offer: WorkerOffer, limit: int, now: datetime, *, retry_different: bool
    ) -> list[Job]:
        """Atomically move up to `limit` matching queued jobs to `pulled` for the worker.

        Matching as `domain.matching.matches`, order as `domain.matching.CLAIM_ORDER`; no job
        is ever handed to two workers.
        """
        ...

    async def save(self, job: Job, event: JobEvent | None) -> None:
        """Write the job if nobody changed it since it was read (else ConcurrentUpdate)."""
        ...

    async def apply_report(self, report: Report) -> bool:
        """Apply the report in one step if `report.worker` holds the job in one of
        `report.accepted_from` (recording `report.event(...)` like `save` does) and say True;
        otherwise change nothing and say False: the caller reads the job to find out why."""
        ...

    async def held_by(self, worker: str) -> list[Job]:
        """The active jobs this worker holds."""
        ...

    async def canceled_under(self, worker: str, limit: int) -> list[Job]:
        """Up to `limit` jobs canceled while this worker held them, the latest first."""
        ...

    async def expired(self, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        """Active jobs whose lease is older than `lease`."""
        ...


class EventLog(Protocol):
    """The recorded transitions of jobs (written by `JobStore` with each change)."""

    async def events(self, job_id: int) -> list[JobEvent]:
        """The job's transitions, oldest first."""
        ...


class Outbox(Protocol):
    """Status updates for the user side, written by `JobStore` in the transaction of the
    change they report; read and settled here by the deliverer (in batches: one statement
    for many messages)."""

    async def pending_updates(
        self, now: datetime, jobs: int, exclude: Collection[int] = ()
    ) -> list[StatusUpdate]:
        """Every undelivered message of up to `jobs` jobs (none of `exclude`) whose oldest
        undelivered message is due by `now`; each job's messages oldest first."""
        ...

    async def settle(self, delivered: Sequence[int], retries: Sequence[Retry]) -> None:
        """In one transaction: forget the `delivered` messages; push each retry back."""
        ...

    async def drop_updates(self, job_id: int) -> None:
        """Forget the job's undelivered messages (the user side deleted the job)."""
        ...

    async def probe_active(self, now: datetime, changed_before: datetime) -> int:
        """Write a message with the current status of every active job that has no
        undelivered message and last changed status before `changed_before` (DECODE's
        user API cancels a job by answering 404 to it); how many were written."""
        ...

    async def backlog(self) -> Backlog: ...


class Health(Protocol):
    async def ping(self) -> None:
        """Raise Unavailable unless the database answers."""
        ...


class FileStore(Protocol):
    """Job files under one root (a folder, or a bucket).

    Keys are canonical paths relative to the root. `locate` is the single place where an
    outside path (absolute, relative, with `..`, through links) becomes a key or is refused.
    """

    def locate(self, path: str) -> str:
        """The canonical key of `path`, or PathNotAllowed when it escapes the root."""
        ...

    async def download_request(self, key: str) -> TransferRequest:
        """How to fetch the file; FileNotFound when it does not exist."""
        ...

    async def upload_request(
        self, job_id: int, kind: FileKind, base_path: str, folder: str
    ) -> TransferRequest:
        """How to upload files into the folder key `folder`: the job's `kind` folder joined
        with `base_path`, already confined by the use case."""
        ...

    async def write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        """Stream bytes into `key`; TooLarge past max_bytes (nothing is left behind)."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """Stream the bytes of `key`; FileNotFound when it does not exist."""
        ...


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; NotAuthenticated otherwise."""
        ...


class StatusSink(Protocol):
    """The user side, told of every status change."""

    async def send(self, update: StatusUpdate) -> None:
        """Deliver, or raise Unavailable (retry later) or NotFound (user deleted the job)."""
        ...
