"""The SMTP notifier against aiosmtpd on 127.0.0.1: the parts, login, reply codes, TLS."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.notify.smtp import SmtpConfig, SmtpNotifier
from domain.errors import Rejected, Unavailable
from domain.notify.render import compose
from tests.contract.notify_samples import EVIL, SENDER, T0, mail
from tests.contract.smtp_server import SmtpServer, self_signed_tls


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
