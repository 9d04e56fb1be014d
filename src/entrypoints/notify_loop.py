"""The notification loop: DeliverNotifications on its own asyncio task, wired from settings.

Start it beside the other scheduler loops (it needs no leadership: the outbox hands each
notification to one deliverer only, so any number of processes may run it):

    async with notification_loop(settings, engine):
        ...  # the other loops, until shutdown

Up to JOBCLOUD_NOTIFY_CONCURRENCY attempts are in flight at once, each bounded by
JOBCLOUD_NOTIFY_TIMEOUT; a freed slot takes the next due notification at once (a slow
receiver holds up only its own slot); when idle the outbox is polled every
JOBCLOUD_NOTIFY_INTERVAL seconds. Nothing here can hold up another loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.notify.mailjet import MailjetNotifier
from adapters.notify.smtp import SmtpConfig, SmtpNotifier
from adapters.notify.webhook import WebhookNotifier
from adapters.secrets import resolve_secret
from adapters.sql.notifications import SqlNotificationOutbox
from domain.notify.deliver import DeliverNotifications, DeliveryPolicy
from domain.notify.model import Channel, NotifyPolicy
from domain.notify.ports import Notifier
from entrypoints.settings import NotifySettings, Settings, SettingsError

log = logging.getLogger("jobcloud.notify")


def notify_policy(settings: Settings) -> NotifyPolicy:
    """What the user API passes to `adapters.sql.notifications.enqueue`: the statuses told,
    and e-mail only when a sender is configured."""
    n = settings.notify
    channels = {Channel.WEBHOOK} | ({Channel.EMAIL} if n.email_sender_service else set())
    return NotifyPolicy(statuses=n.on, channels=frozenset(channels))


class NotifyProvider(Provider):
    """For the composition root: `NotifyPolicy`, which the user API's use cases take."""

    scope = Scope.APP

    @provide
    def policy(self, s: Settings) -> NotifyPolicy:
        return notify_policy(s)


def delivery_policy(n: NotifySettings) -> DeliveryPolicy:
    return DeliveryPolicy(
        concurrency=n.concurrency,
        timeout=n.timeout,
        max_attempts=n.max_attempts,
        backoff_max=n.backoff_max,
    )


def _secret(name: str, value: str | None) -> str | None:
    try:
        return resolve_secret(value)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def build_notifiers(n: NotifySettings, http: httpx.AsyncClient) -> dict[Channel, Notifier]:
    """One sender per channel; blocking (secrets may be fetched): call it at start-up."""
    notifiers: dict[Channel, Notifier] = {
        Channel.WEBHOOK: WebhookNotifier(
            http,
            default_secret=n.webhook_secret,
            timeout=n.timeout,
            allow_private=n.webhook_allow_private,
        )
    }
    if n.email_sender_service == "mailjet":
        assert n.email_sender_api_key
        assert n.email_sender_address
        notifiers[Channel.EMAIL] = MailjetNotifier(
            http,
            api_key=n.email_sender_api_key,
            secret_key=_secret("EMAIL_SENDER_SECRET_KEY", n.email_sender_secret_key) or "",
            sender=n.email_sender_address,
            base_url=n.email_sender_api_url,
            timeout=n.timeout,
        )
    elif n.email_sender_service == "smtp":
        assert n.smtp_host
        assert n.email_sender_address
        config = SmtpConfig(
            host=n.smtp_host,
            port=n.smtp_port,
            sender=n.email_sender_address,
            username=n.smtp_username,
            password=_secret("SMTP_PASSWORD", n.smtp_password),
            starttls=n.smtp_starttls,
            tls=n.smtp_tls,
            ca_file=n.smtp_ca_file,
            timeout=n.timeout,
        )
        notifiers[Channel.EMAIL] = SmtpNotifier(config)
    return notifiers


class NotificationLoop:
    def __init__(self, deliver: DeliverNotifications, interval: float, batch: int = 50) -> None:
        self._deliver = deliver
        self._interval = interval
        self._batch = batch
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """One round; how many notifications it claimed."""
        result = await self._deliver(self._batch)
        if result.claimed:
            log.info(
                "notifications: %d sent, %d to retry, %d given up",
                result.sent,
                result.retried,
                result.failed,
            )
        return result.claimed

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._deliver.serve(self._stopping, self._interval)
            except Exception:
                log.exception("notification loop crashed; again in %ss", self._interval)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._interval)

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name="jobcloud-notifications")

    async def stop(self, grace: float = 5.0) -> None:
        """Let the round in flight finish for `grace` seconds, then cancel it (what it held
        comes back after the outbox's hold, and is sent then)."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@asynccontextmanager
async def notification_loop(
    settings: Settings, engine: AsyncEngine, *, batch: int = 50
) -> AsyncIterator[NotificationLoop]:
    """The loop, started, over the queue database's `notifications` table; stopped on exit."""
    n = settings.notify
    async with httpx.AsyncClient(timeout=httpx.Timeout(n.timeout)) as http:
        notifiers = await asyncio.to_thread(build_notifiers, n, http)
        deliver = DeliverNotifications(
            SqlNotificationOutbox(engine), notifiers, SystemClock(), delivery_policy(n)
        )
        loop = NotificationLoop(deliver, n.interval, batch)
        loop.start()
        try:
            yield loop
        finally:
            await loop.stop()
