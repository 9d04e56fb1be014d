"""What each notifier puts on the wire, checked by its real server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapters.notify.mailjet import MailjetNotifier
from adapters.notify.smtp import SmtpConfig, SmtpNotifier
from adapters.notify.webhook import WebhookNotifier
from domain.errors import Rejected, Unavailable
from domain.jobs import Status
from domain.notify.model import Channel, JobChange, Notification
from domain.notify.render import compose
from tests.contract.notify_servers import (
    MailjetServer,
    SmtpServer,
    WebhookReceiver,
    self_signed_tls,
)

SENDER = "jobcloud@lab.example.org"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EVIL = "<script>alert('x')</script>"


def change(**kw: object) -> JobChange:
    values: dict[str, object] = {
        "username": "ada",
        "job_id": 42,
        "job_name": f"fit {EVIL}",
        "status": Status.ERROR,
        "date_created": T0,
        "runtime_details": f"failed: {EVIL} & more",
        **kw,
    }
    return JobChange(**values)  # type: ignore[arg-type]


def mail(address: str = "ada@example.org") -> Notification:
    return Notification(Channel.EMAIL, address, change())


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


# -- SMTP ---------------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def smtp_notifier(port: int, **kw: object) -> SmtpNotifier:
    values: dict[str, object] = {"starttls": False, "timeout": 5.0, **kw}
    return SmtpNotifier(SmtpConfig("127.0.0.1", port, SENDER, **values))  # type: ignore[arg-type]


async def test_smtp_sends_text_and_escaped_html(smtp: SmtpServer) -> None:
    n = mail()
    await smtp_notifier(smtp.port).send(n, compose(n, T0))
    [got] = smtp.received
    assert (got.sender, got.recipients) == (SENDER, ["ada@example.org"])
    m = got.message
    assert (m["From"], m["To"]) == (SENDER, "ada@example.org")
    assert m["Subject"] == f"Job fit {EVIL} (id=42) error"
    assert m["Message-ID"] == "<jobcloud.42.error.email@lab.example.org>"
    assert f"failed: {EVIL} & more" in got.part("plain")
    html = got.part("html")
    assert EVIL not in html
    assert "failed: &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in html
    assert "None" not in html


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_logs_in_with_the_configured_credentials() -> None:
    server = SmtpServer(credentials=("mailer", "pa55"))
    server.start()
    try:
        n = mail()
        ok = smtp_notifier(server.port, username="mailer", password="pa55")
        await ok.send(n, compose(n, T0))
        assert [r.login for r in server.received] == ["mailer"]
        wrong = smtp_notifier(server.port, username="mailer", password="nope")
        with pytest.raises(Unavailable, match="535"):
            await wrong.send(n, compose(n, T0))
        anonymous = smtp_notifier(server.port)
        with pytest.raises(Unavailable):
            await anonymous.send(n, compose(n, T0))
        assert len(server.received) == 1
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("rcpt", "data", "error"),
    [
        ("550 5.1.1 no such user", None, Rejected),
        ("450 4.2.1 mailbox busy", None, Unavailable),
        ("250 OK", "554 5.7.1 message refused as spam", Rejected),
        ("250 OK", "452 4.3.1 insufficient storage", Unavailable),
    ],
)
async def test_smtp_answers_become_domain_errors(
    smtp: SmtpServer, rcpt: str, data: str | None, error: type[Exception]
) -> None:
    smtp.rcpt_answer = rcpt
    if data:
        smtp.data_answer = data
    n = mail()
    with pytest.raises(error, match=(data or rcpt).split()[0]):
        await smtp_notifier(smtp.port).send(n, compose(n, T0))


async def test_smtp_requiring_starttls_from_a_server_without_it_is_a_clear_error(
    smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    n = mail()
    with caplog.at_level(logging.ERROR), pytest.raises(Unavailable):
        await smtp_notifier(smtp.port, starttls=True).send(n, compose(n, T0))
    assert "SMTP_STARTTLS" in caplog.text
    assert smtp.received == []


# -- Mailjet ------------------------------------------------------------------------------


@pytest.fixture
def mailjet() -> Iterator[MailjetServer]:
    server = MailjetServer("key-1", "secret-1")
    server.start()
    yield server
    server.stop()


MJ_SECRET = "secret-1"
HOOK_SECRET = "per-job-secret"


def mailjet_notifier(http: httpx.AsyncClient, url: str, secret: str = MJ_SECRET) -> MailjetNotifier:
    return MailjetNotifier(
        http, api_key="key-1", secret_key=secret, sender=SENDER, base_url=url + "/"
    )


async def test_mailjet_request_is_exactly_a_v3_1_send(
    mailjet: MailjetServer, http: httpx.AsyncClient
) -> None:
    n = mail()
    message = compose(n, T0)
    await mailjet_notifier(http, mailjet.url).send(n, message)
    assert mailjet.problems == [[]]
    assert mailjet.answers == [200]
    [request] = mailjet.requests
    assert (request.method, request.path) == ("POST", "/v3.1/send")
    auth = base64.b64encode(b"key-1:secret-1").decode()
    assert request.headers["authorization"] == f"Basic {auth}"
    assert request.json() == {
        "Messages": [
            {
                "From": {"Email": SENDER},
                "To": [{"Email": "ada@example.org"}],
                "Subject": message.subject,
                "TextPart": message.text,
                "HTMLPart": message.html,
                "CustomID": "jobcloud.42.error.email",
            }
        ]
    }
    assert EVIL not in request.json()["Messages"][0]["HTMLPart"]


async def test_mailjet_wrong_keys_are_unavailable_and_logged(
    mailjet: MailjetServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    n = mail()
    with caplog.at_level(logging.ERROR), pytest.raises(Unavailable, match="401"):
        await mailjet_notifier(http, mailjet.url, "wrong").send(n, compose(n, T0))
    assert "Mailjet refuses our keys" in caplog.text
    assert "wrong" not in caplog.text


async def test_mailjet_refuses_a_bad_recipient_for_good(
    mailjet: MailjetServer, http: httpx.AsyncClient
) -> None:
    n = mail("ada@localhost")  # no dot in the domain: the stand-in refuses it as Mailjet does
    with pytest.raises(Rejected, match="To\\[0\\]"):
        await mailjet_notifier(http, mailjet.url).send(n, compose(n, T0))
    assert mailjet.answers == [400]


@pytest.mark.parametrize("code", [429, 500, 503])
async def test_mailjet_throttling_and_outages_are_unavailable(
    mailjet: MailjetServer, http: httpx.AsyncClient, code: int
) -> None:
    mailjet.script = lambda request, index: (code, "")
    n = mail()
    with pytest.raises(Unavailable, match=str(code)):
        await mailjet_notifier(http, mailjet.url).send(n, compose(n, T0))


async def test_mailjet_a_2xx_with_an_error_status_is_rejected(
    mailjet: MailjetServer, http: httpx.AsyncClient
) -> None:
    body = json.dumps({"Messages": [{"Status": "error", "Errors": [{"ErrorCode": "mj-0013"}]}]})
    mailjet.script = lambda request, index: (200, body)
    n = mail()
    with pytest.raises(Rejected, match="mj-0013"):
        await mailjet_notifier(http, mailjet.url).send(n, compose(n, T0))


# -- webhooks -----------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(HOOK_SECRET, tolerance=60)
    server.start()
    yield server
    server.stop()


def local(http: httpx.AsyncClient) -> WebhookNotifier:
    """The receivers of these tests listen on 127.0.0.1."""
    return WebhookNotifier(http, allow_private=True)


def hook(url: str, secret: str | None = HOOK_SECRET) -> Notification:
    return Notification(Channel.WEBHOOK, url + "/hook", change(), secret=secret)


async def test_webhook_body_is_signed_and_the_receiver_trusts_it(
    receiver: WebhookReceiver, http: httpx.AsyncClient
) -> None:
    n = hook(receiver.url)
    now = datetime.now(UTC)
    await local(http).send(n, compose(n, now))
    assert receiver.refusals == [None]
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-jobcloud-delivery"] == "42.error.webhook"
    assert request.headers["x-jobcloud-timestamp"] == now.isoformat(timespec="seconds")
    body = request.json()
    assert body["job_name"] == f"fit {EVIL}"  # JSON, not HTML: the receiver escapes its own
    assert body["sent_at"] == now.isoformat(timespec="seconds")
    assert body["status"] == "error"


async def test_webhook_default_secret_when_none_is_given(http: httpx.AsyncClient) -> None:
    server = WebhookReceiver("site-secret")
    server.start()
    try:
        n = hook(server.url, secret=None)
        site = WebhookNotifier(http, default_secret="site-secret", allow_private=True)
        await site.send(n, compose(n, datetime.now(UTC)))
        assert server.refusals == [None]
        with pytest.raises(Rejected, match="no signing secret"):
            await local(http).send(n, compose(n, datetime.now(UTC)))
        assert len(server.requests) == 1  # nothing unsigned was sent
    finally:
        server.stop()


async def test_webhook_with_another_secret_is_refused_by_the_receiver(
    receiver: WebhookReceiver, http: httpx.AsyncClient
) -> None:
    n = hook(receiver.url, secret="not-the-one")
    with pytest.raises(Rejected, match="401"):
        await local(http).send(n, compose(n, datetime.now(UTC)))
    assert receiver.refusals == ["bad signature"]


async def test_webhook_replays_and_tampering_are_refused_by_the_receiver(
    receiver: WebhookReceiver, http: httpx.AsyncClient
) -> None:
    n = hook(receiver.url)
    # An old delivery sent again (its sent_at is signed, so it cannot be refreshed).
    with pytest.raises(Rejected, match="401"):
        await local(http).send(n, compose(n, datetime.now(UTC) - timedelta(hours=1)))
    await local(http).send(n, compose(n, datetime.now(UTC)))
    genuine = receiver.requests[-1]
    tampered = genuine.body.replace(b'"error"', b'"finished"')
    headers = {k: v for k, v in genuine.headers.items() if k.startswith("x-jobcloud")}
    answer = await http.post(receiver.url + "/hook", content=tampered, headers=headers)
    assert answer.status_code == 401
    assert receiver.refusals == ["stale (a replay?)", None, "bad signature"]


async def test_webhook_redirects_are_not_followed(
    receiver: WebhookReceiver, http: httpx.AsyncClient
) -> None:
    receiver.script = lambda request, index: (302, "")
    n = hook(receiver.url)
    with pytest.raises(Rejected, match="302"):
        await local(http).send(n, compose(n, datetime.now(UTC)))
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_webhooks_to_internal_addresses_are_refused_by_default(
    receiver: WebhookReceiver, http: httpx.AsyncClient, url: str
) -> None:
    n = Notification(Channel.WEBHOOK, url, change(), secret=HOOK_SECRET)
    with pytest.raises(Rejected, match="internal address"):
        await WebhookNotifier(http).send(n, compose(n, datetime.now(UTC)))


async def test_the_local_receiver_is_refused_unless_allowed(
    receiver: WebhookReceiver, http: httpx.AsyncClient
) -> None:
    n = hook(receiver.url)
    with pytest.raises(Rejected, match="JOBCLOUD_WEBHOOK_ALLOW_PRIVATE"):
        await WebhookNotifier(http).send(n, compose(n, datetime.now(UTC)))
    assert receiver.requests == []
    await local(http).send(n, compose(n, datetime.now(UTC)))
    assert receiver.refusals == [None]


# -- SMTP over TLS ------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS
@pytest.mark.parametrize("mode", ["starttls", "implicit"])
async def test_smtp_over_tls_with_the_configured_ca(mode: str, tmp_path: Path) -> None:
    context, ca_file = self_signed_tls(tmp_path)
    tls = {"starttls": context} if mode == "starttls" else {"implicit_tls": context}
    server = SmtpServer(credentials=("mailer", "pa55"), **tls)  # type: ignore[arg-type]
    server.start()
    try:
        secure = {"starttls": mode == "starttls", "tls": mode == "implicit"}
        n = mail()
        login = {"username": "mailer", "password": "pa55"}
        trusted = smtp_notifier(server.port, ca_file=str(ca_file), **secure, **login)
        await trusted.send(n, compose(n, T0))
        assert [r.login for r in server.received] == ["mailer"]
        # A certificate nobody vouched for: nothing is sent, the password never leaves.
        untrusted = smtp_notifier(server.port, **secure, **login)
        with pytest.raises(Unavailable, match=r"(?i)certificate"):
            await untrusted.send(n, compose(n, T0))
        assert len(server.received) == 1
    finally:
        server.stop()


async def test_smtp_without_starttls_where_the_server_requires_it_is_unavailable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    context, _ = self_signed_tls(tmp_path)
    server = SmtpServer(starttls=context)
    server.start()
    try:
        n = mail()
        with caplog.at_level(logging.ERROR), pytest.raises(Unavailable, match="530"):
            await smtp_notifier(server.port, starttls=False).send(n, compose(n, T0))
        assert "refuses our configuration" in caplog.text
        assert server.received == []
    finally:
        server.stop()
