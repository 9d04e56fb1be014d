"""The user API's Notifications port on the notifications outbox (`adapters.sql.notifications`):
a notice becomes its notifications in the transaction that stores the status change,
addressed from the user's profile (`adapters.sql.user_profiles`) as it is then."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.sql.notifications import forget, insert_notifications
from adapters.sql.user_profiles import profiles_on
from domain.accounts.profile import recipients_of
from domain.notify.model import JobChange, NotifyPolicy, notifications_for
from domain.userjobs.notices import Notice


class SqlUserNotifications:
    def __init__(self, policy: NotifyPolicy) -> None:
        self._policy = policy

    async def enqueue(self, transaction: Any, notices: Sequence[Notice]) -> None:
        """Two statements whatever the number of notices: the users' profiles, then every
        notification they call for."""
        if not notices:
            return
        profiles = await profiles_on(transaction, {notice.username for notice in notices})
        items = [
            item
            for notice in notices
            for item in notifications_for(
                _change(notice),
                recipients_of(notice.username, profiles.get(notice.username), notice.webhook_url),
                self._policy,
            )
        ]
        await insert_notifications(transaction, items, max(notice.at for notice in notices))

    async def forget(self, transaction: Any, user_job_id: int) -> None:
        await forget(transaction, user_job_id)


def _change(notice: Notice) -> JobChange:
    return JobChange(
        username=notice.username,
        job_id=notice.user_job_id,
        job_name=notice.job_name,
        status=notice.status,
        date_created=notice.date_created,
        date_started=notice.date_started,
        date_finished=notice.date_finished,
        runtime_details=notice.runtime_details,
    )
