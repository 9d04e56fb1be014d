"""A minimal HTTP/1.1 keep-alive client over raw asyncio streams: cheap enough to load a server.

httpx costs ~1.5 ms of client CPU per request here (it tops out near 600 req/s); this client
builds the request bytes itself and parses only the status line, the headers it needs and a
Content-Length (or chunked) body, so the client side costs a few tens of microseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field


class HttpError(Exception):
    """The connection broke or the server answered something that is not HTTP/1.1."""


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    elapsed_ns: int


class Connection:
    """One keep-alive connection; requests on it are sequential (as a worker's are)."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        fixed = {"Host": f"{host}:{port}", "Connection": "keep-alive", **(headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, limit=1 << 20
        )

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        content_type: str = "application/json",
    ) -> Response:
        if self._writer is None:
            await self.open()
        assert self._reader is not None
        assert self._writer is not None
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self._fixed
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n".encode()
        started = time.perf_counter_ns()
        self._writer.write(head + b"\r\n" + body)
        try:
            status, payload, keep = await _read_response(self._reader)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise HttpError(f"{method} {path}: {exc!r}") from exc
        elapsed = time.perf_counter_ns() - started
        if not keep:
            await self.close()
        return Response(status, payload, elapsed)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise HttpError(f"not an HTTP/1.x status line: {lines[0]!r}")
    status = int(parts[1])
    length = -1
    chunked = False
    keep = parts[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep = value.strip().lower() != b"close"
    if chunked:
        return status, await _read_chunked(reader), keep
    if length >= 0:
        return status, await reader.readexactly(length) if length else b"", keep
    if status in (204, 304) or 100 <= status < 200:
        return status, b"", keep
    return status, await reader.read(), False  # body until close


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers expected
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


@dataclass
class Tally:
    """Per-request-kind latencies (ns) and outcome counts; merged across processes."""

    latencies: dict[str, list[int]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # "kind status" -> count
    requests: int = 0

    def record(self, kind: str, response: Response, expected: tuple[int, ...]) -> bool:
        self.requests += 1
        self.latencies.setdefault(kind, []).append(response.elapsed_ns)
        if response.status in expected:
            return True
        key = f"{kind} {response.status}"
        self.errors[key] = self.errors.get(key, 0) + 1
        return False

    def failure(self, kind: str, what: str) -> None:
        key = f"{kind} {what}"
        self.errors[key] = self.errors.get(key, 0) + 1

    def merge(self, other: Tally) -> None:
        self.requests += other.requests
        for kind, values in other.latencies.items():
            self.latencies.setdefault(kind, []).extend(values)
        for key, count in other.errors.items():
            self.errors[key] = self.errors.get(key, 0) + count

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def percentile(values: list[int], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank] / 1e6
