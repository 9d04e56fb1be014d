"""Webhooks (httpx): `POST <url>` with the notification's JSON document, signed.

Headers: `X-Jobcloud-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed with the
notification's secret (the user's or the job's; else the configured default),
`X-Jobcloud-Delivery: <key>` (the same on every attempt: receivers drop repeats by it) and
`X-Jobcloud-Timestamp` (also `sent_at` inside the signed body: receivers refuse old ones,
which stops replays). Redirects are not followed.

Answers: 2xx is delivered; 408, 425, 429, 5xx, timeouts and lost connections are retried
(Unavailable); any other answer refuses this message for good (Rejected).

Users choose the URLs, so by default a URL whose host is (or resolves to) a loopback,
private, link-local or otherwise internal address is refused: no webhook can reach the
database or a cloud metadata service (`allow_private` lifts this, for one machine or tests).
The check resolves the name once before sending; it does not pin that address for the
request, so DNS rebinding stays possible against a hostile name server.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from urllib.parse import urlsplit

import httpx

from domain.errors import Rejected, Unavailable
from domain.notify.model import Notification
from domain.notify.render import Message

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Jobcloud-Signature"
DELIVERY_HEADER = "X-Jobcloud-Delivery"
TIMESTAMP_HEADER = "X-Jobcloud-Timestamp"
_TRANSIENT = frozenset({408, 425, 429})
_EXCERPT = 300


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: what a receiver recomputes from the raw body to trust it."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookNotifier:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        default_secret: str | None = None,
        timeout: float = 30.0,
        allow_private: bool = False,
    ) -> None:
        self._http = http
        self._default_secret = default_secret
        self._timeout = timeout
        self._allow_private = allow_private

    async def send(self, notification: Notification, message: Message) -> None:
        secret = notification.secret or self._default_secret
        if not secret:
            log.error("webhook %s has no signing secret", notification.key)
            raise Rejected("no signing secret (give one, or set JOBCLOUD_WEBHOOK_SECRET)")
        if not self._allow_private:
            await _refuse_internal(notification.address)
        body = json.dumps(message.document, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(secret, body),
            DELIVERY_HEADER: notification.key,
            TIMESTAMP_HEADER: str(message.document.get("sent_at", "")),
            "User-Agent": "jobcloud-webhook/1",
        }
        try:
            response = await self._http.post(
                notification.address,
                content=body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            )
        except httpx.TimeoutException as exc:
            raise Unavailable(f"webhook timed out ({type(exc).__name__})") from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise Unavailable(f"webhook unreachable: {type(exc).__name__}: {exc}") from exc
        _check(response)


def _check(response: httpx.Response) -> None:
    code = response.status_code
    if 200 <= code < 300:
        return
    if code >= 500 or code in _TRANSIENT:
        raise Unavailable(f"webhook answered {code}")
    try:
        excerpt = response.text[:_EXCERPT]
    except (UnicodeDecodeError, LookupError, httpx.HTTPError, httpx.StreamError):
        excerpt = "<unreadable body>"
    raise Rejected(f"webhook answered {code}: {excerpt}")


async def _refuse_internal(url: str) -> None:
    """Rejected when the URL's host is an internal address; Unavailable when it does not
    resolve (now)."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise Rejected(f"webhook URL has no host: {url!r}")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or 443, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise Unavailable(f"webhook host {host!r} does not resolve: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise Rejected(
                f"webhook host {host!r} is an internal address ({address}); "
                "set JOBCLOUD_WEBHOOK_ALLOW_PRIVATE=1 to allow it"
            )
