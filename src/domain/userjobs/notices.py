"""The notification hook: which status changes of a user job are worth telling its owner.

The user store records a Notice in the transaction that stores the status change, through
the Notifications port; delivering it (SMTP, Mailjet, webhooks) is the scheduler's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.jobs import Status

DEFAULT_STATUSES = frozenset({Status.FINISHED, Status.ERROR})


@dataclass(frozen=True, slots=True)
class Notice:
    user_job_id: int
    username: str
    job_name: str
    status: Status
    at: datetime
    runtime_details: str | None = None
    date_created: datetime | None = None
    date_started: datetime | None = None
    date_finished: datetime | None = None
    webhook_url: str | None = None  # the job's own webhook; it wins over the user's


@dataclass(frozen=True, slots=True)
class NotifyRule:
    statuses: frozenset[Status] = DEFAULT_STATUSES

    def notice(self, before: Status, after: Any, at: datetime) -> Notice | None:
        """A Notice when `after` (a UserJob) newly reached a status of the rule."""
        if after.status is before or after.status not in self.statuses:
            return None
        return Notice(
            after.id,
            after.username,
            after.job_name,
            after.status,
            at,
            after.runtime_details,
            after.date_created,
            after.date_started,
            after.date_finished,
            after.request.webhook_url,
        )


class Notifications(Protocol):
    """Records notices for later delivery, inside the store's transaction.

    `transaction` is the store's own handle of the open transaction (for the SQL store, its
    connection): whatever the implementation writes commits or rolls back with the status
    change, so a notice is recorded exactly once per (job, status).
    """

    async def enqueue(self, transaction: Any, notices: Sequence[Notice]) -> None:
        """Record `notices` (of one transaction's status changes) for delivery."""
        ...

    async def forget(self, transaction: Any, user_job_id: int) -> None:
        """The job is deleted: nothing more is told of it."""
        ...


class NoNotifications:
    """No notifier configured: nothing is recorded."""

    async def enqueue(self, transaction: Any, notices: Sequence[Notice]) -> None:
        return None

    async def forget(self, transaction: Any, user_job_id: int) -> None:
        return None
