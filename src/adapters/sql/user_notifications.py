"""The user API's Notifications port on the notifications outbox (`adapters.sql.notifications`):
a notice becomes its notifications in the transaction that stores the status change."""

from __future__ import annotations

import re
from typing import Any

from adapters.sql.notifications import enqueue, forget
from domain.notify.model import JobChange, NotifyPolicy, Recipients
from domain.userjobs.notices import Notice

# DECODE's accounts are e-mail addresses (Cognito usernames); a local account whose name is
# an address is told there too. Other accounts have no address to tell.
_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


def recipients_of(username: str) -> Recipients:
    return Recipients(email=username if _ADDRESS.match(username) else None)


class SqlUserNotifications:
    def __init__(self, policy: NotifyPolicy) -> None:
        self._policy = policy

    async def enqueue(self, transaction: Any, notice: Notice) -> None:
        change = JobChange(
            username=notice.username,
            job_id=notice.user_job_id,
            job_name=notice.job_name,
            status=notice.status,
            date_created=notice.date_created,
            date_started=notice.date_started,
            date_finished=notice.date_finished,
            runtime_details=notice.runtime_details,
        )
        recipients = recipients_of(notice.username)
        await enqueue(transaction, change, recipients, self._policy, now=notice.at)

    async def forget(self, transaction: Any, user_job_id: int) -> None:
        await forget(transaction, user_job_id)
