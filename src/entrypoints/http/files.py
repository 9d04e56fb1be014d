"""Worker file transfers: request descriptions (pre-signed or local) and local up/downloads.

A description is what DECODE's job fetcher sends as given (`requests.request(**d)`). For local
files it points at this API's own endpoint and carries the caller's own `authorization`
header; the upload URL keeps the caller's query string (`type`, `base_path`), as DECODE's
worker API writes them."""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote, unquote

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, PathParameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED

from adapters.wire.decode import NO_NUL, TransferRequestOut, UploadedFiles, transfer_out
from domain import limits
from domain.jobs import FileKind
from domain.use_cases.files import DownloadFile, DownloadRequest, UploadFile, UploadRequest
from domain.workers import Principal
from entrypoints.http.docs import DescriptionOrBytes, MultipartUpload, errors
from entrypoints.http.multipart import file_parts
from entrypoints.settings import Settings

Kind = Annotated[
    FileKind,
    QueryParameter(description="which of the job's folders: output, log or artifact"),
]
BasePath = Annotated[
    str,
    QueryParameter(
        description="a sub-folder of that folder, relative (no `..`); empty: the folder itself",
        max_length=limits.PATH_MAX,
        pattern=NO_NUL,
    ),
]
JobId = Annotated[int, PathParameter(ge=0, le=limits.ID_MAX)]
GENERIC = "application/octet-stream"


async def _started(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Pull the first chunk now, so a missing file is a 404 before the response starts."""
    first = await anext(chunks, b"")

    async def rest() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return rest()


def _own_url(request: Request[Any, Any, Any], path: str) -> str:
    """`path` on this API, as the caller reached it, with the caller's query string."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return str(request.base_url).rstrip("/") + path + (f"?{query}" if query else "")


def _raw_path(request: Request[Any, Any, Any], routed: str) -> str:
    """The path as sent (percent-encoded): routing collapses "//", which would turn an
    absolute id (/data/...) into a relative one and break s3:// ids."""
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else f"/files{routed}"


def _download_path(raw: str, file_id: str) -> str:
    """The caller's own path with `/url` -> `/download` (its id spelled as it was sent)."""
    if raw.endswith("/url"):
        return raw.removesuffix("/url") + "/download"
    return f"/files/{quote(file_id)}/download"


def _attachment(name: str) -> str:
    """Content-Disposition for any file name (RFC 6266): a plain ASCII fallback, and the
    exact name percent-encoded as UTF-8."""
    plain = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


class WorkerFilesController(Controller):
    tags = ["worker: files"]
    security = [{"BearerToken": []}]

    @post(
        "/jobs/{job_id:int}/files/url",
        status_code=HTTP_201_CREATED,
        summary="How to upload into the job's output/log/artifact folder",
        description="A request description `{method, url, headers, data}` to send as given, "
        "adding the multipart `file` part(s): a pre-signed S3 POST (headers `{}`), or this "
        "API's upload endpoint with the caller's query string and its own `authorization` "
        "header. The holder may upload while the job is active or in `error`.",
        responses=errors(400, 401, 403, 404, 409, 422, 503),
    )
    async def upload_url(
        self,
        request: Request[Any, Any, Any],
        job_id: JobId,
        type: Kind,
        upload_request: FromDishka[UploadRequest],
        principal: FromDishka[Principal],
        base_path: BasePath = "",
    ) -> TransferRequestOut:
        limits.check_path("base_path", base_path)
        grant = await upload_request(principal, job_id, type, base_path)
        own = _own_url(request, f"/jobs/{job_id}/files/upload")
        return transfer_out(grant, own, request.headers.get("authorization"))

    @post(
        "/jobs/{job_id:int}/files/upload",
        status_code=HTTP_201_CREATED,
        request_max_body_size=None,  # streamed; the size limit is enforced while writing
        summary="Upload files (multipart field `file`) into the job's folder (local files)",
        description="Each `file` part is stored under the folder as its filename says "
        "(relative, no `..`); streamed to disk, at most MAX_UPLOAD_BYTES each. Answers the "
        "keys stored. On S3 use the pre-signed POST instead (400).",
        responses=errors(400, 401, 403, 404, 409, 413, 422, 503),
        operation_class=MultipartUpload,
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        job_id: JobId,
        type: Kind,
        upload_file: FromDishka[UploadFile],
        principal: FromDishka[Principal],
        settings: FromDishka[Settings],
        base_path: BasePath = "",
    ) -> UploadedFiles:
        limits.check_path("base_path", base_path)
        stored = []
        budget = settings.max_upload_bytes
        async for filename, chunks in file_parts(request):
            key = await upload_file(principal, job_id, type, base_path, filename, chunks, budget)
            stored.append(key)
        return UploadedFiles(files=stored)

    @get(
        "/files/{file_path:path}",
        summary="`<file id>/url`: how to download an input; `<file id>/download`: its bytes",
        description="`<file id>/url` answers a request description to send as given: a "
        "pre-signed S3 GET (headers `{}`), or this API's `<file id>/download` with the "
        "caller's own `authorization` header. `/download` (local files) streams the bytes "
        "with the content type of the file's name. Only inputs of jobs the worker holds; an "
        "input of a job canceled under it is 404 (stop).",
        responses=errors(400, 401, 403, 404, 422, 503),
        operation_class=DescriptionOrBytes,
    )
    async def file(
        self,
        request: Request[Any, Any, Any],
        file_path: FromPath[str],
        download_request: FromDishka[DownloadRequest],
        download_file: FromDishka[DownloadFile],
        principal: FromDishka[Principal],
    ) -> TransferRequestOut | Stream:
        raw = _raw_path(request, file_path)
        file_id, _, action = unquote(raw).split("/files/", 1)[-1].rpartition("/")
        limits.check_path("file_id", file_id)
        if action == "url" and file_id:
            grant = await download_request(principal, file_id)
            own = _own_url(request, _download_path(raw, file_id))
            return transfer_out(grant, own, request.headers.get("authorization"))
        if action == "download" and file_id:
            chunks = await _started(await download_file(principal, file_id))
            name = posixpath.basename(file_id.rstrip("/")) or "file"
            # A header, not `media_type`: Litestar lets the handler's JSON default win over
            # a Stream's own media type.
            headers = {
                "Content-Type": mimetypes.guess_type(name)[0] or GENERIC,
                "Content-Disposition": _attachment(name),
            }
            return Stream(chunks, headers=headers)
        raise NotFoundException("expected /files/<file id>/url or /files/<file id>/download")
