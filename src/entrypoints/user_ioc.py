"""Wiring of the user side that the scheduler needs too: the user job store and the status
rule. The user HTTP app adds its own providers (entrypoints.http.user.ioc)."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.user_jobs import SqlUserJobStore
from adapters.sql.user_notifications import SqlUserNotifications
from domain.ports import Clock
from domain.userjobs.notices import Notifications, NotifyRule
from domain.userjobs.ports import UserJobStore
from domain.userjobs.use_cases import ApplyUserStatus
from entrypoints.notify_loop import notify_policy
from entrypoints.settings import Settings


class UserCoreProvider(Provider):
    scope = Scope.APP

    @provide
    def notify_rule(self, s: Settings) -> NotifyRule:
        return NotifyRule(statuses=s.notify.on)

    @provide
    def notifications(self, s: Settings) -> Notifications:
        # Recorded in the status change's transaction, sent by the notification loop.
        return SqlUserNotifications(notify_policy(s))

    @provide
    def user_jobs(self, engine: AsyncEngine, notifications: Notifications) -> UserJobStore:
        return SqlUserJobStore(engine, notifications)

    @provide
    def apply_status(self, store: UserJobStore, clock: Clock, rule: NotifyRule) -> ApplyUserStatus:
        return ApplyUserStatus(store, clock, rule)
