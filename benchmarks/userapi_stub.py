"""A fast stand-in for DECODE's user API, in a process of its own: `PUT /_job_status` is
answered 204 at once over kept-alive HTTP/1.1 connections and recorded; `GET /stats` tells
how many statuses came, how many jobs got `finished`, and when (perf_counter_ns, comparable
across processes on Linux) the last status arrived.

A raw asyncio protocol, not a framework: it must cost far less CPU than what it measures.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

_NO_CONTENT = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"


@dataclass
class Stats:
    requests: int = 0
    finished: set[int] = field(default_factory=set)
    out_of_order: int = 0
    last_ns: int = 0
    last: dict[int, int] = field(default_factory=dict)  # job -> rank of its latest status

    def as_json(self) -> bytes:
        body = {
            "requests": self.requests,
            "finished": len(self.finished),
            "out_of_order": self.out_of_order,
            "last_ns": self.last_ns,
        }
        return json.dumps(body).encode()


_RANK = {"pulled": 0, "preprocessing": 1, "running": 2, "postprocessing": 3, "finished": 4}


class _Protocol(asyncio.Protocol):
    def __init__(self, stats: Stats) -> None:
        self._stats = stats
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = self._buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            self._answer(head.split(" ", 2)[:2], body)

    def _answer(self, request_line: list[str], body: bytes) -> None:
        assert self._transport is not None
        if request_line[0] == "GET":
            payload = self._stats.as_json()
            self._transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            return
        self._record(json.loads(body))
        self._transport.write(_NO_CONTENT)

    def _record(self, status: dict[str, object]) -> None:
        stats = self._stats
        stats.requests += 1
        stats.last_ns = time.perf_counter_ns()
        job = int(str(status["job_id"]))
        rank = _RANK.get(str(status["status"]), -1)
        if rank < stats.last.get(job, -1):
            stats.out_of_order += 1
        stats.last[job] = rank
        if status["status"] == "finished":
            stats.finished.add(job)


def _serve(host: str, ready: Connection) -> None:
    async def main() -> None:
        stats = Stats()
        server = await asyncio.get_running_loop().create_server(
            lambda: _Protocol(stats), host, 0, backlog=1024
        )
        ready.send(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


class UserApiStub:
    """The stub in a child process; `url` once started."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._process: multiprocessing.Process | None = None
        self.url = ""

    def __enter__(self) -> UserApiStub:
        parent, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=_serve, args=(self._host, child))
        self._process.start()
        self.url = f"http://{self._host}:{parent.recv()}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(5)
