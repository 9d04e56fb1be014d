"""Job files on local disk under one root (USER_DATA_ROOT_PATH)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from domain.errors import FileNotFound, PathNotAllowed, TooLarge
from domain.jobs import FileKind
from domain.transfers import TransferRequest

CHUNK = 1024 * 1024


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self._given = os.path.normpath(os.path.abspath(root))
        self._root = os.path.realpath(root)

    def locate(self, path: str) -> str:
        """Normalise first, then confine: `..`, other roots and links out are refused."""
        if "\x00" in path:
            raise PathNotAllowed(path, "contains a NUL byte")
        relative = self._relative(path)
        real = os.path.realpath(os.path.join(self._root, relative))
        if real != self._root and not real.startswith(self._root + os.sep):
            raise PathNotAllowed(path, "leads out of the data root through a link")
        return "" if relative == "." else relative.replace(os.sep, "/")

    def _relative(self, path: str) -> str:
        if os.path.isabs(path):
            normal = os.path.normpath(path)
            for root in (self._given, self._root):
                if normal == root or normal.startswith(root.rstrip(os.sep) + os.sep):
                    return os.path.relpath(normal, root)
            raise PathNotAllowed(path, "is outside the data root")
        normal = posixpath.normpath(path.replace(os.sep, "/"))
        if normal == ".." or normal.startswith("../"):
            raise PathNotAllowed(path, "leaves the data root")
        return normal

    def _path(self, key: str) -> str:
        return os.path.join(self._root, key)

    async def download_request(self, key: str) -> TransferRequest:
        if not key or not await asyncio.to_thread(os.path.isfile, self._path(key)):
            raise FileNotFound(key)
        return TransferRequest("get", f"/files/{quote(key)}/download")

    async def upload_request(
        self, job_id: int, kind: FileKind, base_path: str, folder: str
    ) -> TransferRequest:
        query = f"type={kind.value}&base_path={quote(base_path, safe='')}"
        return TransferRequest("post", f"/jobs/{job_id}/files/upload?{query}")

    async def write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        target = self._path(key)
        if not key or not await asyncio.to_thread(_writable, target):
            raise PathNotAllowed(key, "is not a writable file path")
        folder = os.path.dirname(target)
        await asyncio.to_thread(os.makedirs, folder, exist_ok=True)
        fd, temporary = await asyncio.to_thread(tempfile.mkstemp, dir=folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                size = await _copy(chunks, handle, max_bytes, key)
            await asyncio.to_thread(os.replace, temporary, target)
            return size
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    async def read(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(open, path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileNotFound(key) from None
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()


async def _copy(chunks: AsyncIterator[bytes], handle: BinaryIO, max_bytes: int, key: str) -> int:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"{key}: larger than {max_bytes} bytes")
        await asyncio.to_thread(handle.write, chunk)
    return size


def _writable(target: str) -> bool:
    """Not a link (never written through) and not a folder."""
    return not os.path.islink(target) and not os.path.isdir(target)
