"""StatusSink over HTTP: `PUT {base_url}/_job_status`, the DECODE user API's internal route.

Every httpx exception and every unexpected answer becomes a domain error: NotFound (the user
deleted the job) or Unavailable (try again later). Nothing from httpx leaves this module.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import msgspec

from adapters.userapi.http11 import Http11Origin, ProtocolError
from domain.errors import NotFound, Rejected, Unavailable
from domain.transfers import StatusUpdate

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0  # seconds, for connecting, sending and reading alike
_LOGGED_BODY = 500  # characters of an unexpected answer kept in the log

# Answers that mean "the user API is busy or down": retry later, quietly.
_TRANSIENT = frozenset({408, 425, 429})
# Answers that refuse this update itself (e.g. a status the user API does not know):
# retrying cannot help, and holding it back would stall every later update of the job.
_REJECTED = frozenset({400, 422})


class UserJobGone(NotFound):
    """The user API answered 404: the user deleted the job."""

    def __init__(self, user_job_id: int) -> None:
        super().__init__(f"user job {user_job_id} no longer exists on the user side")
        self.user_job_id = user_job_id


class UserApiStatusSink:
    """Tells the DECODE user API of a status change (the StatusSink port), over an httpx
    client, or over kept-alive connections of its own (`Http11Origin`: the scheduler's,
    for thousands of updates a second)."""

    def __init__(
        self,
        http: httpx.AsyncClient | Http11Origin,
        base_url: str,
        api_key: str,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/_job_status"
        self._api_key = api_key
        self._timeout = timeout

    async def send(self, update: StatusUpdate) -> None:
        body: dict[str, object] = {
            "job_id": update.user_job_id,
            "status": update.status.value,
            # DECODE's user API appends runtime_details to a string: never send null.
            "runtime_details": update.runtime_details or "",
        }
        if isinstance(self._http, Http11Origin):
            code, text = await self._put_lean(self._http, msgspec.json.encode(body))
        else:
            response = await self._put(body)
            code, text = response.status_code, _body_excerpt(response)
        _check(code, text, update)

    async def _put_lean(self, origin: Http11Origin, body: bytes) -> tuple[int, str]:
        headers = {"content-type": "application/json", "x-api-key": self._api_key}
        try:
            async with asyncio.timeout(self._timeout):
                code, payload = await origin.request("PUT", "/_job_status", headers, body)
        except TimeoutError as exc:
            raise Unavailable("user API timed out") from exc
        except (OSError, ProtocolError, asyncio.IncompleteReadError, ValueError) as exc:
            raise Unavailable(f"user API unreachable: {type(exc).__name__}: {exc}") from exc
        return code, payload[:_LOGGED_BODY].decode("utf-8", "replace")

    async def _put(self, body: dict[str, object]) -> httpx.Response:
        assert isinstance(self._http, httpx.AsyncClient)
        try:
            return await self._http.put(
                self._url,
                json=body,
                headers={"x-api-key": self._api_key},
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise Unavailable(f"user API timed out ({type(exc).__name__})") from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise Unavailable(f"user API unreachable: {type(exc).__name__}: {exc}") from exc


def _check(code: int, text: str, update: StatusUpdate) -> None:
    if 200 <= code < 300:
        return
    if code == 404:
        raise UserJobGone(update.user_job_id)
    if code >= 500 or code in _TRANSIENT:
        raise Unavailable(f"user API answered {code}")
    if code in _REJECTED:
        raise Rejected(f"user API answered {code}: {text}")
    # 401, 403, 3xx...: retrying will not help until someone fixes the configuration.
    log.error(
        "user API refused the status of job %s (user job %s): %s %s",
        update.job_id,
        update.user_job_id,
        code,
        text,
    )
    raise Unavailable(f"user API refused the update: {code}")


def _body_excerpt(response: httpx.Response) -> str:
    try:
        return response.text[:_LOGGED_BODY]
    except (UnicodeDecodeError, LookupError, httpx.HTTPError, httpx.StreamError):
        return "<unreadable body>"
