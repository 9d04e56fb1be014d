"""The webhook notifier against a receiver on 127.0.0.1 that checks the signature."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.notify.webhook import WebhookNotifier
from domain.errors import Rejected
from domain.notify.model import Channel, Notification
from domain.notify.render import compose
from tests.contract.notify_http_servers import WebhookReceiver
from tests.contract.notify_samples import EVIL, change


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


HOOK_SECRET = "per-job-secret"


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
