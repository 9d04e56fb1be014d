"""A lean HTTP/1.1 client for one origin: kept-alive connections (at most `size`), one
request per connection at a time, `Content-Length` or chunked answers, http or https.

Why not httpx here: delivering a status is one small PUT, thousands per second, and an
httpx request cost 1.0-1.5 ms of CPU on the benchmark machine (4 ms with 32 in flight:
its pool's bookkeeping), more than the whole target for a delivered update (0.3 ms).
This costs a few tens of microseconds. httpx stays the client everywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit

_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_MAX_HEAD = 64 * 1024
_MAX_BODY = 1024 * 1024


class ProtocolError(Exception):
    """The other side did not answer in HTTP/1.1 we understand."""


class Http11Origin:
    def __init__(self, base_url: str, size: int) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self._authority = parts.netloc.rpartition("@")[2]
        self.prefix = parts.path.rstrip("/")
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Connection] = []

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """Send one request; its status and body. OSError, ProtocolError when it failed."""
        message = _message(method, self.prefix + path, self._authority, headers, body)
        async with self._slots:
            if self._idle:
                try:  # a kept-alive connection the server may have closed meanwhile
                    return await self._exchange(self._idle.pop(), message)
                except (OSError, _Stale):
                    pass  # nothing came back on it: try once on a new connection
            connection = await asyncio.open_connection(self._host, self._port, ssl=self._ssl)
            try:
                return await self._exchange(connection, message)
            except (_Stale, asyncio.IncompleteReadError) as exc:
                raise ProtocolError("the connection closed before an answer") from exc

    async def _exchange(self, connection: _Connection, message: bytes) -> tuple[int, bytes]:
        reader, writer = connection
        try:
            writer.write(message)
            await writer.drain()
            status, body, keep = await _read_answer(reader)
        except BaseException:
            _close(writer)  # half a conversation (or cancelled): never reuse it
            raise
        if keep:
            self._idle.append(connection)
        else:
            _close(writer)
        return status, body

    async def aclose(self) -> None:
        while self._idle:
            _close(self._idle.pop()[1])


class _Stale(Exception):
    """The connection ended before the first byte of an answer."""


def _message(
    method: str, target: str, authority: str, headers: dict[str, str], body: bytes
) -> bytes:
    fields = {"host": authority, **headers, "content-length": str(len(body))}
    if any("\r" in f or "\n" in f for item in fields.items() for f in item):
        raise ValueError("CR or LF in a header")
    lines = [f"{method} {target or '/'} HTTP/1.1", *(f"{k}: {v}" for k, v in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise _Stale from exc
        raise
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("answer head too long") from exc
    if len(head) > _MAX_HEAD:
        raise ProtocolError("answer head too long")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
        raise ProtocolError(f"not an HTTP/1.x answer: {status_line[:80]!r}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return int(rest[:3]), await _read_chunked(reader), keep
    if "content-length" in headers:
        length = int(headers["content-length"])
        if not 0 <= length <= _MAX_BODY:
            raise ProtocolError(f"answer body of {length} bytes")
        return int(rest[:3]), await reader.readexactly(length), keep
    return int(rest[:3]), await reader.read(_MAX_BODY), False  # until the server closes


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers expected
            return b"".join(chunks)
        if sum(map(len, chunks)) + size > _MAX_BODY:
            raise ProtocolError("answer body too long")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
