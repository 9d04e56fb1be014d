"""DeliverNotifications: send what the outbox holds, a few at a time, each attempt bounded."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from domain.errors import DomainError, Rejected, StoreUnavailable, Unavailable
from domain.notify.model import Channel, Notification, Outcome
from domain.notify.ports import NotificationOutbox, Notifier
from domain.notify.render import compose
from domain.ports import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    concurrency: int = 4  # attempts in flight at once
    timeout: float = 30.0  # seconds per attempt
    max_attempts: int = 20  # then the notification is given up (kept as failed)
    backoff_base: float = 2.0  # seconds before the first retry, doubling each time
    backoff_max: float = 3600.0

    def backoff(self, attempts: int) -> timedelta:
        """2 s, 4 s, 8 s, ... capped at backoff_max; `attempts` failed so far (0 = first)."""
        return timedelta(
            seconds=min(self.backoff_base * (1 << min(attempts, 30)), self.backoff_max)
        )

    @property
    def hold(self) -> timedelta:
        """How long a claimed notification stays hidden from other deliverers: well past one
        attempt, so that only a deliverer that died lets it be sent again."""
        return timedelta(seconds=2 * self.timeout + 30)


@dataclass(frozen=True, slots=True)
class DeliveryRound:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


class DeliverNotifications:
    def __init__(
        self,
        outbox: NotificationOutbox,
        notifiers: Mapping[Channel, Notifier],
        clock: Clock,
        policy: DeliveryPolicy | None = None,
    ) -> None:
        self._outbox = outbox
        self._notifiers = dict(notifiers)
        self._clock = clock
        self._policy = policy or DeliveryPolicy()

    async def __call__(self, batch: int = 50) -> DeliveryRound:
        """One round: claim up to `batch` due notifications and attempt each once."""
        due = await self._outbox.due(self._clock.now(), batch, self._policy.hold)
        if not due:
            return DeliveryRound()
        gate = asyncio.Semaphore(self._policy.concurrency)

        async def attempt(n: Notification) -> Outcome:
            async with gate:
                return await self._attempt(n)

        results = await asyncio.gather(*(attempt(n) for n in due), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:  # the outbox itself failed: those come back after the hold
            log.warning("notification outbox failed: %s", error)
        counts = Counter(r for r in results if isinstance(r, Outcome))
        return DeliveryRound(
            claimed=len(due),
            sent=counts[Outcome.SENT],
            retried=counts[Outcome.RETRY],
            failed=counts[Outcome.FAILED],
        )

    async def serve(self, stopping: asyncio.Event, interval: float) -> None:
        """Deliver until `stopping` is set (then finish the attempts in flight), with up to
        `concurrency` attempts in flight at any time: a free slot claims the next due
        notification at once, so a slow receiver holds up only its own slot. Polls the
        outbox every `interval` seconds when idle."""
        running: set[asyncio.Task[Outcome | None]] = set()
        stop = asyncio.ensure_future(stopping.wait())
        try:
            while not stopping.is_set():
                free = self._policy.concurrency - len(running)
                claimed = await self._claim(free) if free > 0 else []
                running |= {asyncio.create_task(self._attempt_logged(n)) for n in claimed}
                if claimed and len(claimed) == free:
                    continue  # every slot is busy now; maybe more are due
                await asyncio.wait(
                    {stop, *running}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                )
                running = {t for t in running if not t.done()}
            if running:  # let the attempts in flight end: each is bounded by the timeout
                await asyncio.wait(running)
        finally:  # cancelled: what was in flight comes back after the hold
            stop.cancel()
            for task in running:
                task.cancel()
            await asyncio.gather(stop, *running, return_exceptions=True)

    async def _claim(self, limit: int) -> list[Notification]:
        try:
            return await self._outbox.due(self._clock.now(), limit, self._policy.hold)
        except StoreUnavailable:  # the store logs each outage once, not each round
            return []
        except DomainError as exc:
            log.warning("notification outbox unavailable: %s", exc)
            return []

    async def _attempt_logged(self, n: Notification) -> Outcome | None:
        try:
            return await self._attempt(n)
        except StoreUnavailable:  # it comes back after the hold; the store logged the outage
            return None
        except DomainError as exc:  # the outbox failed: it comes back after the hold
            log.warning("notification %s: outbox failed: %s", n.key, exc)
            return None

    async def _attempt(self, n: Notification) -> Outcome:
        notifier = self._notifiers.get(n.channel)
        if notifier is None:
            return await self._give_up(n, f"no {n.channel.value} sender is configured")
        message = compose(n, self._clock.now())
        try:
            async with asyncio.timeout(self._policy.timeout):
                await notifier.send(n, message)
        except Rejected as exc:
            return await self._give_up(n, f"refused: {exc}")
        except (Unavailable, TimeoutError) as exc:
            return await self._retry(n, str(exc) or f"timed out after {self._policy.timeout}s")
        except DomainError as exc:
            return await self._retry(n, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a sender's bug must not stop the others
            log.exception("notification %s: the %s sender crashed", n.key, n.channel.value)
            return await self._retry(n, f"{type(exc).__name__}: {exc}")
        await self._outbox.delivered(n.id, self._clock.now())
        return Outcome.SENT

    async def _retry(self, n: Notification, error: str) -> Outcome:
        if n.attempts + 1 >= self._policy.max_attempts:
            return await self._give_up(n, f"{n.attempts + 1} attempts failed, last: {error}")
        at = self._clock.now() + self._policy.backoff(n.attempts)
        log.info("notification %s to be retried at %s: %s", n.key, at.isoformat(), error)
        await self._outbox.retry_later(n.id, at, error)
        return Outcome.RETRY

    async def _give_up(self, n: Notification, error: str) -> Outcome:
        log.error("notification %s given up: %s", n.key, error)
        await self._outbox.give_up(n.id, error)
        return Outcome.FAILED
