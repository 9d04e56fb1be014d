"""Worker file transfers: request descriptions (pre-signed or local) and local up/downloads."""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED

from adapters.wire.decode import TransferRequestOut, transfer_out
from domain.jobs import FileKind
from domain.use_cases.files import DownloadFile, DownloadRequest, UploadFile, UploadRequest
from domain.workers import Principal
from entrypoints.http.multipart import file_parts
from entrypoints.settings import Settings


async def _started(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Pull the first chunk now, so a missing file is a 404 before the response starts."""
    first = await anext(chunks, b"")

    async def rest() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return rest()


class WorkerFilesController(Controller):
    tags = ["worker: files"]
    security = [{"BearerToken": []}]

    @post(
        "/jobs/{job_id:int}/files/url",
        status_code=HTTP_201_CREATED,
        summary="How to upload into the job's output/log/artifact folder",
    )
    async def upload_url(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[int],
        type: FromQuery[FileKind],
        upload_request: FromDishka[UploadRequest],
        principal: FromDishka[Principal],
        base_path: FromQuery[str] = "",
    ) -> TransferRequestOut:
        grant = await upload_request(principal, job_id, type, base_path)
        return transfer_out(grant, str(request.base_url))

    @post(
        "/jobs/{job_id:int}/files/upload",
        status_code=HTTP_201_CREATED,
        request_max_body_size=None,  # streamed; the size limit is enforced while writing
        summary="Upload files (multipart field `file`) into the job's folder (local files)",
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[int],
        type: FromQuery[FileKind],
        upload_file: FromDishka[UploadFile],
        principal: FromDishka[Principal],
        settings: FromDishka[Settings],
        base_path: FromQuery[str] = "",
    ) -> dict[str, list[str]]:
        stored = []
        budget = settings.max_upload_bytes
        async for filename, chunks in file_parts(request):
            key = await upload_file(principal, job_id, type, base_path, filename, chunks, budget)
            stored.append(key)
        return {"files": stored}

    @get("/files/{file_path:path}", summary="`<file id>/url`: how to download; `/download`: bytes")
    async def file(
        self,
        request: Request[Any, Any, Any],
        file_path: FromPath[str],
        download_request: FromDishka[DownloadRequest],
        download_file: FromDishka[DownloadFile],
        principal: FromDishka[Principal],
    ) -> TransferRequestOut | Stream:
        # The raw path, not the routed parameter: routing collapses "//", which would turn
        # an absolute id (/data/...) into a relative one and break s3:// ids.
        raw_path = request.scope.get("raw_path")
        path = unquote(raw_path.decode("latin-1")) if raw_path else f"/files{file_path}"
        file_id, _, action = path.split("/files/", 1)[-1].rpartition("/")
        if action == "url" and file_id:
            grant = await download_request(principal, file_id)
            return transfer_out(grant, str(request.base_url))
        if action == "download" and file_id:
            chunks = await _started(await download_file(principal, file_id))
            name = posixpath.basename(file_id.rstrip("/")) or "file"
            return Stream(
                chunks,
                media_type="application/octet-stream",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        raise NotFoundException("expected /files/<file id>/url or /files/<file id>/download")
