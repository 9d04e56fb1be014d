"""Value objects of file transfers and status forwarding."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.jobs import Status


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """How a worker performs one upload or download: an HTTP request to send.

    `url` is absolute (pre-signed S3, sent as is), or None: the bytes go through this API's
    own download or upload endpoint (local files), whose URL the HTTP layer writes, with the
    caller's own credentials (as DECODE's worker API does).
    """

    method: str
    url: str | None
    headers: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One status change to forward to the user side, from the outbox."""

    message_id: int
    job_id: int  # the queue's id
    user_job_id: int  # meta.job_id
    status: Status
    runtime_details: str | None
    attempts: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """An outbox message to try again at `at` (the user side could not take it)."""

    message_id: int
    at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class Backlog:
    """The undelivered status messages: how many, and when the oldest was written."""

    count: int
    oldest: datetime | None
