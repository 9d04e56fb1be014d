"""One line per request (method, path, status, duration, the worker when authenticated),
and the request-latency histogram. Never the query string or any header: no tokens or keys
can reach the log. JOBCLOUD_ACCESS_LOG=0 turns the lines off (the histogram stays).

It wraps the whole app (Litestar's own handler, outside routing), so requests to unknown
paths and refused ones are counted too."""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Send

from entrypoints.metrics import request_seconds

log = logging.getLogger("jobcloud.access")
WORKER_KEY = "jobcloud_worker"  # scope["state"] key: the authenticated caller's name


def remember_caller(scope: Any, name: str) -> None:
    """Name the caller in the request's state, for its access-log line."""
    scope.setdefault("state", {})[WORKER_KEY] = name


class AccessLog:
    def __init__(self, app: ASGIApp, *, lines: bool) -> None:
        self._app = app
        self._lines = lines

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Any, status: int, seconds: float) -> None:
        route = scope.get("path_template") or "(unmatched)"
        method = scope["method"]
        request_seconds.labels(method, route, str(status)).observe(seconds)
        if not self._lines:
            return
        worker = scope.get("state", {}).get(WORKER_KEY)
        log.info(
            "%s %s %d %.1f ms%s",
            method,
            _path(scope),
            status,
            seconds * 1000,
            f" worker={worker}" if worker else "",
        )


def _path(scope: Any) -> str:
    """The path as sent (percent-encoded: no line breaks can reach the log), without any
    query string (some servers leave it in `raw_path`; values such as runtime details
    stay out of the log)."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1").partition("?")[0] if raw else str(scope["path"])
