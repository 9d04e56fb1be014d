"""The in-memory notification outbox (the reference the SQL one is held to) and a notifier
that records what it is given and fails on demand."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.errors import DomainError
from domain.notify.model import Notification, NotificationState, State
from domain.notify.render import Message


@dataclass
class _Entry:
    notification: Notification
    state: State
    next_attempt_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None


class InMemoryNotificationOutbox:
    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._keys: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def enqueue(self, notifications: Sequence[Notification], now: datetime) -> int:
        added = 0
        async with self._lock:
            for n in notifications:
                if n.key in self._keys:
                    continue
                self._keys.add(n.key)
                stored = replace(n, id=next(self._ids), attempts=0)
                self._entries[stored.id] = _Entry(stored, State.PENDING, now)
                added += 1
        return added

    async def forget(self, job_id: int) -> None:
        async with self._lock:
            for entry_id, entry in list(self._entries.items()):
                if entry.notification.change.job_id == job_id:
                    del self._entries[entry_id]
                    self._keys.discard(entry.notification.key)

    async def due(self, now: datetime, limit: int, hold: timedelta) -> list[Notification]:
        async with self._lock:
            ready = sorted(
                (e for e in self._entries.values() if self._ready(e, now)),
                key=lambda e: (e.next_attempt_at, e.notification.id),
            )[:limit]
            for entry in ready:
                entry.next_attempt_at = now + hold
            return sorted((e.notification for e in ready), key=lambda n: n.id)

    @staticmethod
    def _ready(entry: _Entry, now: datetime) -> bool:
        return entry.state is State.PENDING and entry.next_attempt_at <= now

    async def delivered(self, notification_id: int, now: datetime) -> None:
        entry = self._pending(notification_id)
        if entry is not None:
            entry.state, entry.delivered_at = State.DELIVERED, now

    async def retry_later(self, notification_id: int, at: datetime, error: str) -> None:
        entry = self._pending(notification_id)
        if entry is not None:
            entry.notification = replace(
                entry.notification, attempts=entry.notification.attempts + 1
            )
            entry.next_attempt_at, entry.last_error = at, error[:1000]

    async def give_up(self, notification_id: int, error: str) -> None:
        entry = self._pending(notification_id)
        if entry is not None:
            entry.notification = replace(
                entry.notification, attempts=entry.notification.attempts + 1
            )
            entry.state, entry.last_error = State.FAILED, error[:1000]

    def _pending(self, notification_id: int) -> _Entry | None:
        entry = self._entries.get(notification_id)
        return entry if entry is not None and entry.state is State.PENDING else None

    async def states(self, job_id: int) -> list[NotificationState]:
        return [
            NotificationState(
                channel=e.notification.channel,
                status=e.notification.change.status,
                state=e.state,
                attempts=e.notification.attempts,
                last_error=e.last_error,
                delivered_at=e.delivered_at,
            )
            for e in sorted(self._entries.values(), key=lambda e: e.notification.id)
            if e.notification.change.job_id == job_id
        ]


Failure = Callable[[Notification, int], DomainError | None]  # (notification, call index)


class RecordingNotifier:
    """Records every attempt; `fail` may answer an error to raise, `delay` slows sends."""

    def __init__(self) -> None:
        self.attempts: list[tuple[Notification, Message]] = []
        self.sent: list[tuple[Notification, Message]] = []
        self.fail: Failure = lambda n, index: None
        self.delay: float = 0.0
        self.in_flight = 0
        self.most_in_flight = 0

    async def send(self, notification: Notification, message: Message) -> None:
        index = len(self.attempts)
        self.attempts.append((notification, message))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            error = self.fail(notification, index)
            if error is not None:
                raise error
        finally:
            self.in_flight -= 1
        self.sent.append((notification, message))
