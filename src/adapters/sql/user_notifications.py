"""The user API's Notifications port on the notifications outbox (`adapters.sql.notifications`):
a notice becomes its notifications in the transaction that stores the status change,
addressed from the user's profile (`adapters.sql.user_profiles`) as it is then."""

from __future__ import annotations

from typing import Any

from adapters.sql.notifications import enqueue, forget
from adapters.sql.user_profiles import profile_on
from domain.accounts.profile import recipients_of
from domain.notify.model import JobChange, NotifyPolicy
from domain.userjobs.notices import Notice


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
        profile = await profile_on(transaction, notice.username)
        recipients = recipients_of(notice.username, profile, notice.webhook_url)
        await enqueue(transaction, change, recipients, self._policy, now=notice.at)

    async def forget(self, transaction: Any, user_job_id: int) -> None:
        await forget(transaction, user_job_id)
