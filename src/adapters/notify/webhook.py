"""Webhooks (httpx): `POST <url>` with the notification's JSON document, signed.

Headers: `X-Jobcloud-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed with the
notification's secret (the user's or the job's; else the configured default),
`X-Jobcloud-Delivery: <key>` (the same on every attempt: receivers drop repeats by it) and
`X-Jobcloud-Timestamp` (also `sent_at` inside the signed body: receivers refuse old ones,
which stops replays). Redirects are not followed.

Answers: 2xx is delivered; 408, 425, 429, 5xx, timeouts and lost connections are retried
(Unavailable); any other answer refuses this message for good (Rejected).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

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
        self, http: httpx.AsyncClient, *, default_secret: str | None = None, timeout: float = 30.0
    ) -> None:
        self._http = http
        self._default_secret = default_secret
        self._timeout = timeout

    async def send(self, notification: Notification, message: Message) -> None:
        secret = notification.secret or self._default_secret
        if not secret:
            log.error("webhook %s has no signing secret", notification.key)
            raise Rejected("no signing secret (give one, or set JOBCLOUD_WEBHOOK_SECRET)")
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
