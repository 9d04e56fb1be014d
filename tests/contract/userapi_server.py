"""A fake DECODE user API: a real HTTP server on 127.0.0.1 that records requests and answers
from a script."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, str]  # status code, body
Script = Callable[["Recorded", int], Answer]  # (request, index of the request) -> answer


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # a deliverer opens dozens of connections at once


class UserApiServer:
    """A real HTTP server answering from `script`; `release` ends any slow answer."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answers: list[int] = []
        self.script: Script = lambda request, index: (204, "")
        self.delay_for: Callable[[int], float] = lambda index: 0.0  # seconds before answering
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, request: Recorded) -> Answer:
        with self._lock:
            index = len(self.requests)
            self.requests.append(request)
            code, body = self.script(request, index)
            self.answers.append(code)
        delay = self.delay_for(index)
        if delay:
            self.release.wait(delay)
        return code, body

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # kept-alive connections, as a real user API

            def do_PUT(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:  # the client went away mid-request: nothing arrived
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                code, text = api.answer(Recorded(self.command, self.path, headers, body))
                payload = text.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
