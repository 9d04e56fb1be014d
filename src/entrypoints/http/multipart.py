"""Stream the `file` parts of a multipart body, chunk by chunk, never holding a file in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, HTTPException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from multipart import (
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
    parse_options_header,
)

from domain import limits

FILE_FIELD = "file"
# Bounds of one body: a part's header line, headers per part, parts (files and others).
MAX_HEADER_SIZE = 4096
MAX_HEADER_COUNT = 8
MAX_PARTS = 1000


async def _events(request: Request[Any, Any, Any], boundary: bytes) -> AsyncIterator[Any]:
    try:
        with PushMultipartParser(
            boundary,
            max_header_size=MAX_HEADER_SIZE,
            max_header_count=MAX_HEADER_COUNT,
            max_segment_count=MAX_PARTS,
        ) as parser:
            async for chunk in request.stream():
                for event in parser.parse(chunk):
                    yield event
            for event in parser.parse(b""):
                yield event
    except ParserLimitReached as exc:
        raise HTTPException(
            status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            detail=f"multipart/form-data body beyond its limits ({MAX_HEADER_SIZE} bytes per "
            f"header, {MAX_HEADER_COUNT} headers per part, {MAX_PARTS} parts): {exc}",
        ) from None
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
            limits.check_path("filename", event.filename)
            yield event.filename, _segment_data(events)
    if not found:
        raise ClientException("no `file` part in the multipart body")


async def _segment_data(events: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    async for event in events:
        if event is None:
            return
        if event:
            yield bytes(event)
