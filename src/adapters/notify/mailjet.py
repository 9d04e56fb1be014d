"""E-mail through Mailjet's Send API v3.1 (httpx): `POST {base}/v3.1/send`, basic auth with
EMAIL_SENDER_API_KEY:EMAIL_SENDER_SECRET_KEY, one message per request.

Answers: 2xx is sent (unless the message's Status says "error"); 400 (the message is refused, e.g.
a bad address) is Rejected; 429 and 5xx, timeouts and lost connections are Unavailable;
401/403 (our keys) are Unavailable and logged as errors.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from domain.errors import Rejected, Unavailable
from domain.notify.model import Notification
from domain.notify.render import Message

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.mailjet.com"
_EXCERPT = 500


class MailjetNotifier:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        secret_key: str,
        sender: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
    ) -> None:
        self._http = http
        self._auth = httpx.BasicAuth(api_key, secret_key)
        self._sender = sender
        self._url = base_url.rstrip("/") + "/v3.1/send"
        self._timeout = timeout

    def body(self, notification: Notification, message: Message) -> dict[str, Any]:
        return {
            "Messages": [
                {
                    "From": {"Email": self._sender},
                    "To": [{"Email": notification.address}],
                    "Subject": message.subject,
                    "TextPart": message.text,
                    "HTMLPart": message.html,
                    "CustomID": f"jobcloud.{notification.key}",
                }
            ]
        }

    async def send(self, notification: Notification, message: Message) -> None:
        try:
            response = await self._http.post(
                self._url,
                json=self.body(notification, message),
                auth=self._auth,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise Unavailable(f"Mailjet timed out ({type(exc).__name__})") from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise Unavailable(f"Mailjet unreachable: {type(exc).__name__}: {exc}") from exc
        _check(response)


def _check(response: httpx.Response) -> None:
    code = response.status_code
    if 200 <= code < 300:
        if _status(response) == "error":
            raise Rejected(f"Mailjet answered {code} with an error: {_excerpt(response)}")
        return
    if code == 429 or code >= 500:
        raise Unavailable(f"Mailjet answered {code}")
    if code in (401, 403):
        log.error("Mailjet refuses our keys (%s): %s", code, _excerpt(response))
        raise Unavailable(f"Mailjet refused the credentials: {code}")
    raise Rejected(f"Mailjet answered {code}: {_excerpt(response)}")


def _status(response: httpx.Response) -> str | None:
    try:
        document = response.json()
        status = document["Messages"][0]["Status"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return str(status)


def _excerpt(response: httpx.Response) -> str:
    try:
        return response.text[:_EXCERPT]
    except (UnicodeDecodeError, LookupError, httpx.HTTPError, httpx.StreamError):
        return "<unreadable body>"
