"""Files under the user's folder, at DECODE's paths. The raw request path is parsed here
(not the routed parameter), so `%2e%2e` reaches the confinement check as `..` (403)."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import unquote

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromQuery, JSONBody
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from adapters.files.zipstream import zip_stream
from adapters.wire.decode import TransferRequestOut, transfer_out
from domain.transfers import TransferRequest
from domain.userfiles import use_cases as uc
from domain.userfiles.ports import UserFileStore
from domain.workers import Principal
from entrypoints.http.files import _started
from entrypoints.http.multipart import file_parts
from entrypoints.http.user.wire import FileInfo, Rename, file_info, humanized
from entrypoints.settings import Settings


def _path(request: Request[Any, Any, Any]) -> str:
    """What follows `/files/` in the raw path, percent-decoded once."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = unquote(raw.decode("latin-1").split("?", 1)[0])
    return path.split("/files", 1)[-1].lstrip("/")


def _split(path: str, action: str) -> str | None:
    """`<rest>/<action>` -> rest; None when the path does not end so."""
    stripped = path.rstrip("/")
    if stripped == action or stripped.endswith("/" + action):
        return stripped[: -len(action)].rstrip("/")
    return None


def _described(grant: TransferRequest, request: Request[Any, Any, Any]) -> TransferRequestOut:
    """A pre-signed request as it is; our own endpoint (a path) gets the caller's credentials:
    the authorization header, as DECODE."""
    if grant.url and grant.url.startswith("/"):
        own_url = str(request.base_url).rstrip("/") + grant.url
        authorization = request.headers.get("authorization")
        return transfer_out(dataclasses.replace(grant, url=None), own_url, authorization)
    return transfer_out(grant, grant.url or "", None)


def _disposition(name: str) -> dict[str, str]:
    safe = name.replace('"', "").replace("\\", "") or "download"
    return {"Content-Disposition": f'attachment; filename="{safe}"'}


class UserFilesController(Controller):
    tags = ["user: files"]
    security = [{"BearerToken": []}]

    @get(
        ["/files", "/files/{rest:path}"],
        summary="List (`?show_dirs&recursive`), `<path>/url`, `<path>/download`",
    )
    async def read(
        self,
        request: Request[Any, Any, Any],
        principal: FromDishka[Principal],
        list_files: FromDishka[uc.ListFiles],
        describe: FromDishka[uc.DownloadRequest],
        download: FromDishka[uc.Download],
        files: FromDishka[UserFileStore],
        show_dirs: FromQuery[bool] = True,
        recursive: FromQuery[bool] = False,
    ) -> list[FileInfo] | TransferRequestOut | Stream:
        path = _path(request)
        target = _split(path, "download")
        if target:
            return await self._download(principal, download, files, target)
        target = _split(path, "url")
        if target:
            return _described(await describe(principal, target), request)
        listed = await list_files(principal, path, show_dirs=show_dirs, recursive=recursive)
        return [file_info(item) for item in listed]

    async def _download(
        self, principal: Principal, download: uc.Download, files: UserFileStore, path: str
    ) -> Stream:
        found = await download(principal, path)
        if isinstance(found, uc.FolderDownload):
            chunks = zip_stream(found.files, files.read)
            return Stream(
                chunks, media_type="application/zip", headers=_disposition(f"{found.name}.zip")
            )
        name, data = found
        return Stream(
            await _started(data), media_type="application/octet-stream", headers=_disposition(name)
        )

    @post(
        "/files/{rest:path}",
        status_code=HTTP_201_CREATED,
        request_max_body_size=None,  # streamed; the size limit is enforced while writing
        summary="`<type>/<path>/upload` (multipart `file`), `<type>/<path>/url`, or a folder",
    )
    async def write(
        self,
        request: Request[Any, Any, Any],
        principal: FromDishka[Principal],
        upload: FromDishka[uc.UploadFile],
        describe: FromDishka[uc.UploadRequest],
        make_folder: FromDishka[uc.MakeFolder],
        settings: FromDishka[Settings],
    ) -> FileInfo | TransferRequestOut:
        path = _path(request)
        folder = _split(path, "upload")
        if folder is not None:
            stored: FileInfo | None = None
            async for filename, chunks in file_parts(request):
                size = 0

                async def counted(chunks: Any = chunks) -> Any:
                    nonlocal size
                    async for chunk in chunks:
                        size += len(chunk)
                        yield chunk

                key = await upload(
                    principal, folder, filename, counted(), settings.max_upload_bytes
                )
                stored = FileInfo(key, "file", humanized(size), size)
            assert stored is not None  # file_parts raises when there is no file part
            return stored
        folder = _split(path, "url")
        if folder is not None:
            return _described(await describe(principal, folder), request)
        made = await make_folder(principal, path)
        return FileInfo(made, "directory", humanized(0), 0)

    @put("/files/{rest:path}", status_code=HTTP_200_OK, summary='Rename: body {"path": new}')
    async def rename(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Rename],
        principal: FromDishka[Principal],
        rename: FromDishka[uc.RenameFile],
    ) -> dict[str, str]:
        return {"path": await rename(principal, _path(request), data.path)}

    @delete("/files/{rest:path}", status_code=204, summary="Delete a file or folder (idempotent)")
    async def remove(
        self,
        request: Request[Any, Any, Any],
        principal: FromDishka[Principal],
        remove: FromDishka[uc.DeleteFile],
    ) -> None:
        await remove(principal, _path(request))
