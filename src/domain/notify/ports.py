"""The ports of notifications: a sender per channel, and the outbox they are sent from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from domain.notify.model import Notification, NotificationState
from domain.notify.render import Message


class Notifier(Protocol):
    """Sends one message on one channel (e-mail: SMTP or Mailjet; webhooks)."""

    async def send(self, notification: Notification, message: Message) -> None:
        """Deliver, or raise Unavailable (try again later) or Rejected (never will be)."""
        ...


class NotificationOutbox(Protocol):
    """Notifications waiting to be sent: at most one per (job, status, channel), ever."""

    async def enqueue(self, notifications: Sequence[Notification], now: datetime) -> int:
        """Add those not there yet (a repeat of the same key is ignored); how many were new.

        SQL adapters also offer this on the caller's own transaction, so a status change and
        its notifications commit together."""
        ...

    async def forget(self, job_id: int) -> None:
        """Drop every notification of a deleted user job (sent or not)."""
        ...

    async def due(self, now: datetime, limit: int, hold: timedelta) -> list[Notification]:
        """Claim up to `limit` pending notifications whose time has come, oldest first.

        A claimed one is hidden from every other caller until `now + hold` (a deliverer
        that dies lets it come back then)."""
        ...

    async def delivered(self, notification_id: int, now: datetime) -> None: ...

    async def retry_later(self, notification_id: int, at: datetime, error: str) -> None:
        """Count a failed attempt; due again at `at`."""
        ...

    async def give_up(self, notification_id: int, error: str) -> None:
        """Never send it (refused for good, or out of attempts); it is kept, failed."""
        ...

    async def states(self, job_id: int) -> list[NotificationState]:
        """The notifications of a user job, in the order they were enqueued."""
        ...
