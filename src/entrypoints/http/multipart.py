"""Stream the `file` parts of a multipart body, chunk by chunk, never holding a file in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException
from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header

FILE_FIELD = "file"


async def _events(request: Request[Any, Any, Any], boundary: bytes) -> AsyncIterator[Any]:
    try:
        with PushMultipartParser(boundary) as parser:
            async for chunk in request.stream():
                for event in parser.parse(chunk):
                    yield event
            for event in parser.parse(b""):
                yield event
    except ParserError as exc:
        raise ClientException(f"invalid multipart/form-data body: {exc}") from None


async def file_parts(
    request: Request[Any, Any, Any],
) -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
    """Yield (filename, chunks) for every part named `file`; consume each before the next."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != "multipart/form-data" or "boundary" not in options:
        raise ClientException("expected a multipart/form-data body with a `file` part")
    events = _events(request, options["boundary"].encode())
    found = False
    async for event in events:
        if isinstance(event, MultipartSegment) and event.name == FILE_FIELD and event.filename:
            found = True
            yield event.filename, _segment_data(events)
    if not found:
        raise ClientException("no `file` part in the multipart body")


async def _segment_data(events: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    async for event in events:
        if event is None:
            return
        if event:
            yield bytes(event)
