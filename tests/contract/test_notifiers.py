"""One Notifier suite over every adapter against a real server on 127.0.0.1: SMTP (aiosmtpd),
Mailjet's Send API v3.1 (a stand-in that checks requests as Mailjet does) and webhooks (a
receiver that checks the signature). Then delivery end to end: retries, restarts, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapters.clock import SystemClock
from adapters.notify.mailjet import MailjetNotifier
from adapters.notify.smtp import SmtpConfig, SmtpNotifier
from adapters.notify.webhook import WebhookNotifier
from domain.errors import Rejected, Unavailable
from domain.jobs import Status
from domain.notify.deliver import DeliverNotifications, DeliveryPolicy
from domain.notify.model import (
    Channel,
    JobChange,
    Notification,
    NotifyPolicy,
    Recipients,
    notifications_for,
)
from domain.notify.ports import Notifier
from domain.notify.render import compose
from tests.contract.notify_http_servers import MailjetServer, WebhookReceiver
from tests.contract.notify_support import outbox_for
from tests.contract.smtp_server import SmtpServer, free_port
from tests.contract.sql_support import BACKENDS

SENDER = "jobcloud@lab.example.org"
API_KEY, SECRET_KEY = "mj-key", "mj-secret"
HOOK_SECRET = "hook-secret"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def change(job_id: int = 42, status: Status = Status.FINISHED) -> JobChange:
    return JobChange(
        username="ada",
        job_id=job_id,
        job_name="fit <beads> & 'co'",
        status=status,
        date_created=T0,
        date_started=T0 + timedelta(minutes=1),
        date_finished=T0 + timedelta(hours=1),
        runtime_details="loss <0.1> & done",
    )


@dataclass
class Rig:
    """One adapter wired to its server, and how to make that server misbehave."""

    name: str
    channel: Channel
    address: str
    secret: str | None
    make: Callable[[float], Notifier]  # timeout -> notifier
    make_unreachable: Callable[[], Notifier]
    keys: Callable[[], list[str]]  # the delivery keys the server accepted, in order
    refuse_for_good: Callable[[], None]
    refuse_for_now: Callable[[], None]
    slow_down: Callable[[float], None]
    recover: Callable[[], None]
    unreachable_address: str | None = None  # where nobody listens, when the address says

    def notification(self, c: JobChange | None = None) -> Notification:
        return Notification(self.channel, self.address, c or change(), secret=self.secret)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def smtp_rig(server: SmtpServer) -> Rig:
    def make(timeout: float, port: int = server.port) -> Notifier:
        return SmtpNotifier(SmtpConfig("127.0.0.1", port, SENDER, starttls=False, timeout=timeout))

    def refuse(answer: str) -> Callable[[], None]:
        def set_answer() -> None:
            server.rcpt_answer = answer

        return set_answer

    def slow_down(seconds: float) -> None:
        server.delay = seconds

    def recover() -> None:
        server.rcpt_answer, server.delay = "250 OK", 0.0

    return Rig(
        "smtp",
        Channel.EMAIL,
        "ada@example.org",
        None,
        make,
        lambda: make(2.0, free_port()),
        lambda: [str(r.message["Message-ID"]) for r in server.received],
        refuse("550 5.1.1 no such user"),
        refuse("451 4.7.1 greylisted, try later"),
        slow_down,
        recover,
    )


def mailjet_rig(server: MailjetServer, http: httpx.AsyncClient) -> Rig:
    valid = server.script

    def make(timeout: float, url: str = server.url) -> Notifier:
        return MailjetNotifier(
            http, api_key=API_KEY, secret_key=SECRET_KEY, sender=SENDER, base_url=url,
            timeout=timeout,
        )  # fmt: skip

    def keys() -> list[str]:
        return [
            r.json()["Messages"][0]["CustomID"]
            for r, code in zip(server.requests, server.answers, strict=True)
            if code == 200
        ]

    def answer_with(code: int) -> Callable[[], None]:
        def set_script() -> None:
            server.script = lambda request, index: (code, '{"ErrorMessage": "no"}')

        return set_script

    def slow_down(seconds: float) -> None:
        server.delay_for = lambda index: seconds

    def recover() -> None:
        server.script, server.delay_for = valid, (lambda index: 0.0)

    return Rig(
        "mailjet",
        Channel.EMAIL,
        "ada@example.org",
        None,
        make,
        lambda: make(2.0, f"http://127.0.0.1:{free_port()}"),
        keys,
        answer_with(400),
        answer_with(429),
        slow_down,
        recover,
    )


def webhook_rig(receiver: WebhookReceiver, http: httpx.AsyncClient) -> Rig:
    genuine = receiver.script

    def answer_with(code: int) -> Callable[[], None]:
        def set_script() -> None:
            receiver.script = lambda request, index: (code, "")

        return set_script

    def slow_down(seconds: float) -> None:
        receiver.delay_for = lambda index: seconds

    def recover() -> None:
        receiver.script, receiver.delay_for = genuine, (lambda index: 0.0)

    return Rig(
        "webhook",
        Channel.WEBHOOK,
        receiver.url + "/hooks/jobs",
        HOOK_SECRET,
        lambda timeout: WebhookNotifier(http, timeout=timeout, allow_private=True),
        lambda: WebhookNotifier(http, allow_private=True),
        lambda: [
            r.headers["x-jobcloud-delivery"]
            for r, code in zip(receiver.requests, receiver.answers, strict=True)
            if code == 204
        ],
        answer_with(410),
        answer_with(503),
        slow_down,
        recover,
        unreachable_address=f"http://127.0.0.1:{free_port()}/hooks/jobs",
    )


@pytest.fixture(params=["smtp", "mailjet", "webhook"])
def rig(request: pytest.FixtureRequest, http: httpx.AsyncClient) -> Iterator[Rig]:
    if request.param == "smtp":
        smtp = SmtpServer()
        smtp.start()
        yield smtp_rig(smtp)
        smtp.stop()
        return
    server = (
        MailjetServer(API_KEY, SECRET_KEY)
        if request.param == "mailjet"
        else WebhookReceiver(HOOK_SECRET)
    )
    server.start()
    if isinstance(server, MailjetServer):
        yield mailjet_rig(server, http)
    else:
        yield webhook_rig(server, http)
    server.stop()


def key_of(rig: Rig, n: Notification) -> str:
    if rig.name == "smtp":
        return f"<jobcloud.{n.key}@lab.example.org>"
    return n.key if rig.name == "webhook" else f"jobcloud.{n.key}"


async def test_delivers_one_message(rig: Rig) -> None:
    n = rig.notification()
    await rig.make(5.0).send(n, compose(n, datetime.now(UTC)))
    assert rig.keys() == [key_of(rig, n)]


async def test_a_refusal_for_good_is_rejected(rig: Rig) -> None:
    rig.refuse_for_good()
    n = rig.notification()
    with pytest.raises(Rejected):
        await rig.make(5.0).send(n, compose(n, datetime.now(UTC)))
    assert rig.keys() == []


async def test_a_refusal_for_now_is_unavailable(rig: Rig) -> None:
    rig.refuse_for_now()
    n = rig.notification()
    with pytest.raises(Unavailable):
        await rig.make(5.0).send(n, compose(n, datetime.now(UTC)))


async def test_a_server_that_is_not_listening_is_unavailable(rig: Rig) -> None:
    n = rig.notification()
    n = replace(n, address=rig.unreachable_address or n.address)
    with pytest.raises(Unavailable):
        await rig.make_unreachable().send(n, compose(n, datetime.now(UTC)))


async def test_a_server_too_slow_to_answer_is_unavailable(rig: Rig) -> None:
    rig.slow_down(3.0)
    n = rig.notification()
    with pytest.raises(Unavailable):
        await rig.make(0.3).send(n, compose(n, datetime.now(UTC)))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_exactly_one_message_across_failures_retries_and_a_restart(
    rig: Rig, backend: str, tmp_path: Path
) -> None:
    """The user side repeats itself, the server fails twice, the deliverer restarts: the
    server accepts exactly one message per (job, status)."""
    policy = DeliveryPolicy(timeout=2.0, backoff_base=0.05, backoff_max=0.1)
    who = Recipients(
        email=rig.address if rig.channel is Channel.EMAIL else None,
        webhook_url=rig.address if rig.channel is Channel.WEBHOOK else None,
        webhook_secret=rig.secret,
    )
    changes = [change(7, Status.RUNNING), change(7, Status.FINISHED), change(8, Status.ERROR)]
    async with outbox_for(backend, tmp_path) as box:
        for c in changes * 2:  # every change reported twice
            await box.outbox.enqueue(_for(c, who), datetime.now(UTC))
        rig.refuse_for_now()
        notifiers = {rig.channel: rig.make(2.0)}
        deliver = DeliverNotifications(box.outbox, notifiers, SystemClock(), policy)
        assert (await deliver()).retried == 2
        await asyncio.sleep(0.06)
        assert (await deliver()).retried == 2
        rig.recover()
        await asyncio.sleep(0.11)
        restarted = DeliverNotifications(
            await box.reopen(), {rig.channel: rig.make(2.0)}, SystemClock(), policy
        )
        assert (await restarted()).sent == 2
        for c in changes:  # late repeats after delivery
            await box.outbox.enqueue(_for(c, who), datetime.now(UTC))
        await asyncio.sleep(0.2)
        assert (await restarted()).claimed == 0
    expected = [key_of(rig, rig.notification(c)) for c in changes if c.status.terminal]
    assert sorted(rig.keys()) == sorted(expected)


def _for(c: JobChange, who: Recipients) -> list[Notification]:
    return notifications_for(c, who, NotifyPolicy())
