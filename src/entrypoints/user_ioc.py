"""Wiring of the user side that the scheduler needs too: the user job store and the status
rule. The user HTTP app adds its own providers (entrypoints.http.user.ioc)."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.user_jobs import SqlUserJobStore
from domain.ports import Clock
from domain.userjobs.notices import NoNotifications, Notifications, NotifyRule
from domain.userjobs.ports import UserJobStore
from domain.userjobs.use_cases import ApplyUserStatus


class UserCoreProvider(Provider):
    scope = Scope.APP

    @provide
    def notify_rule(self) -> NotifyRule:
        return NotifyRule()

    @provide
    def notifications(self) -> Notifications:
        # NOTIFIER HOOK: return the notifier's SQL outbox writer here (it receives the
        # store's open connection in `enqueue`); by default nothing is recorded.
        return NoNotifications()

    @provide
    def user_jobs(self, engine: AsyncEngine, notifications: Notifications) -> UserJobStore:
        return SqlUserJobStore(engine, notifications)

    @provide
    def apply_status(self, store: UserJobStore, clock: Clock, rule: NotifyRule) -> ApplyUserStatus:
        return ApplyUserStatus(store, clock, rule)
