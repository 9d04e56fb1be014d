"""The notification loop as the scheduler runs it: real settings, a migrated database, an
SMTP server, a Mailjet stand-in and a webhook receiver, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.notifications import enqueue
from domain.jobs import Status
from domain.notify.model import JobChange, Recipients
from entrypoints.notify_loop import notification_loop, notify_policy
from entrypoints.settings import Settings, load_settings
from tests.contract.notify_http_servers import MailjetServer, WebhookReceiver
from tests.contract.smtp_server import SmtpServer
from tests.contract.sql_support import sql_engine

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
HOOK_SECRET = "site-wide-secret"


@pytest.fixture(params=SQL_BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with sql_engine(str(request.param), tmp_path) as engine:
        async with engine.begin() as tx:
            await tx.execute(text("CREATE TABLE user_jobs_probe (id INTEGER, status TEXT)"))
        yield engine


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(HOOK_SECRET)
    server.start()
    yield server
    server.stop()


def settings_for(tmp_path: Path, **env: str) -> Settings:
    base = {
        "JOBCLOUD_NOTIFY_INTERVAL": "0.05",
        "JOBCLOUD_NOTIFY_TIMEOUT": "5",
        "JOBCLOUD_WEBHOOK_SECRET": HOOK_SECRET,
        "JOBCLOUD_WEBHOOK_ALLOW_PRIVATE": "1",  # the receivers listen on 127.0.0.1
        "EMAIL_SENDER_ADDRESS": "jobcloud@lab.example.org",
    }
    return load_settings({**base, **env}, data_dir=tmp_path)


def smtp_env(server: SmtpServer) -> dict[str, str]:
    return {
        "EMAIL_SENDER_SERVICE": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(server.port),
        "SMTP_STARTTLS": "0",
    }


async def status_change(
    engine: AsyncEngine, settings: Settings, job_id: int, status: Status, who: Recipients
) -> None:
    """What the user API does: its own write and the notifications in one transaction."""
    async with engine.begin() as tx:
        await tx.execute(
            text("INSERT INTO user_jobs_probe (id, status) VALUES (:id, :status)"),
            {"id": job_id, "status": status.value},
        )
        change = JobChange(username="ada", job_id=job_id, job_name=f"fit-{job_id}", status=status)
        await enqueue(tx, change, who, notify_policy(settings), now=datetime.now(UTC))


async def until(condition: Callable[[], bool]) -> None:
    """Poll: the servers run in threads of their own, with no event to await."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_mail_and_webhook_are_sent_once_by_the_loop(
    engine: AsyncEngine, smtp: SmtpServer, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, **smtp_env(smtp))
    who = Recipients(email="ada@example.org", webhook_url=receiver.url + "/hook")
    async with notification_loop(settings, engine):
        for status in (Status.PULLED, Status.RUNNING, Status.FINISHED):
            await status_change(engine, settings, 1, status, who)
        await until(lambda: len(smtp.received) == 1 and len(receiver.requests) == 1)
        await status_change(engine, settings, 1, Status.FINISHED, who)  # a repeat
        await asyncio.sleep(0.3)
    assert [r.message["Subject"] for r in smtp.received] == ["Job fit-1 (id=1) finished"]
    assert receiver.refusals == [None]
    assert receiver.requests[0].json()["status"] == "finished"


async def test_mailjet_from_decode_variables(
    engine: AsyncEngine, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    mailjet = MailjetServer("key", "secret")
    mailjet.start()
    try:
        settings = settings_for(
            tmp_path,
            EMAIL_SENDER_SERVICE="mailjet",
            EMAIL_SENDER_API_KEY="key",
            EMAIL_SENDER_SECRET_KEY="secret",
            EMAIL_SENDER_API_URL=mailjet.url,
        )
        async with notification_loop(settings, engine):
            await status_change(engine, settings, 2, Status.ERROR, Recipients(email="a@b.org"))
            await until(lambda: len(mailjet.requests) == 1)
            await asyncio.sleep(0.2)
    finally:
        mailjet.stop()
    assert mailjet.problems == [[]]
    assert mailjet.answers == [200]


async def test_a_slow_webhook_holds_up_neither_mail_nor_the_event_loop(
    engine: AsyncEngine, smtp: SmtpServer, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    receiver.delay_for = lambda index: 6.0 if index == 0 else 0.0
    settings = settings_for(tmp_path, **smtp_env(smtp))
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    try:
        async with notification_loop(settings, engine):
            slow = Recipients(webhook_url=receiver.url + "/hook")
            await status_change(engine, settings, 3, Status.FINISHED, slow)
            await until(lambda: len(receiver.requests) == 1)
            started = time.monotonic()
            await status_change(engine, settings, 4, Status.FINISHED, Recipients(email="a@b.org"))
            await until(lambda: len(smtp.received) == 1)
            assert time.monotonic() - started < 4.0  # not behind the 6 s webhook
            receiver.release.set()
    finally:
        beat.cancel()
    assert max(gaps) < 1.0  # the event loop was never blocked


async def test_two_schedulers_send_each_notification_once(
    engine: AsyncEngine, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, **smtp_env(smtp))
    async with notification_loop(settings, engine), notification_loop(settings, engine):
        for job_id in range(10, 40):
            who = Recipients(email=f"user{job_id}@example.org")
            await status_change(engine, settings, job_id, Status.FINISHED, who)
        await until(lambda: len(smtp.received) >= 30)
        await asyncio.sleep(0.3)
    recipients = sorted(r.recipients[0] for r in smtp.received)
    assert recipients == sorted(f"user{j}@example.org" for j in range(10, 40))
