"""The Mailjet notifier against a stand-in that checks each request as Send API v3.1 does."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from adapters.notify.mailjet import MailjetNotifier
from domain.errors import Rejected, Unavailable
from domain.notify.render import compose
from tests.contract.notify_http_servers import MailjetServer
from tests.contract.notify_samples import EVIL, SENDER, T0, mail


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def mailjet() -> Iterator[MailjetServer]:
    server = MailjetServer("key-1", "secret-1")
    server.start()
    yield server
    server.stop()


MJ_SECRET = "secret-1"


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
