"""StatusSink over HTTP: `PUT {base_url}/_job_status`, the DECODE user API's internal route.

Every httpx exception and every unexpected answer becomes a domain error: NotFound (the user
deleted the job) or Unavailable (try again later). Nothing from httpx leaves this module.
"""

from __future__ import annotations

import logging

import httpx

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
    """Tells the DECODE user API of a status change (the StatusSink port)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/_job_status"
        self._api_key = api_key
        self._timeout = timeout

    async def send(self, update: StatusUpdate) -> None:
        response = await self._put(update)
        _check(response, update)

    async def _put(self, update: StatusUpdate) -> httpx.Response:
        body = {
            "job_id": update.user_job_id,
            "status": update.status.value,
            # DECODE's user API appends runtime_details to a string: never send null.
            "runtime_details": update.runtime_details or "",
        }
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


def _check(response: httpx.Response, update: StatusUpdate) -> None:
    code = response.status_code
    if 200 <= code < 300:
        return
    if code == 404:
        raise UserJobGone(update.user_job_id)
    if code >= 500 or code in _TRANSIENT:
        raise Unavailable(f"user API answered {code}")
    if code in _REJECTED:
        raise Rejected(f"user API answered {code}: {_body_excerpt(response)}")
    # 401, 403, 3xx...: retrying will not help until someone fixes the configuration.
    log.error(
        "user API refused the status of job %s (user job %s): %s %s",
        update.job_id,
        update.user_job_id,
        code,
        _body_excerpt(response),
    )
    raise Unavailable(f"user API refused the update: {code}")


def _body_excerpt(response: httpx.Response) -> str:
    try:
        return response.text[:_LOGGED_BODY]
    except (UnicodeDecodeError, LookupError, httpx.HTTPError, httpx.StreamError):
        return "<unreadable body>"
