"""Job files on local disk under one root (USER_DATA_ROOT_PATH).

Keys are real paths relative to the real root: `locate` resolves links, so a key never goes
through a link and the use case's folder checks (plain prefix tests) cannot be fooled by one.
Every filesystem call of the async methods runs in a thread.

File ids come as DECODE's user API writes them: `os.path.join(USER_DATA_ROOT_PATH, ...)`, so
absolute when the root is, and relative to the working directory when the root is relative
(`../user_data/u1/data/f.tif` with the root `../user_data`). Ids relative to the root itself
(`u1/data/f.tif`) are accepted too.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import posixpath
import secrets
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from domain.errors import FileNotFound, PathNotAllowed, TooLarge, Unavailable
from domain.jobs import FileKind
from domain.transfers import TransferRequest

CHUNK = 1024 * 1024
_NOT_FOUND = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalFileStore:
    def __init__(self, root: Path, *, cwd: str | None = None) -> None:
        cwd = cwd or os.getcwd()
        self._given = os.path.normpath(os.path.join(cwd, root))
        self._root = os.path.realpath(self._given)
        self._cwd = cwd
        # A relative root as given (`../user_data`): ids starting with it are relative to the
        # working directory, as DECODE's user API writes them.
        self._as_given = "" if os.path.isabs(root) else posixpath.normpath(str(root))

    def locate(self, path: str) -> str:
        """Normalise first, then confine: `..`, other roots and links out are refused."""
        if "\x00" in path:
            raise PathNotAllowed(path, "contains a NUL byte")
        real = os.path.realpath(os.path.join(self._root, self._relative(path)))
        if real == self._root:
            return ""
        if not real.startswith(self._root.rstrip(os.sep) + os.sep):
            raise PathNotAllowed(path, "leads out of the data root through a link")
        return os.path.relpath(real, self._root).replace(os.sep, "/")

    def _relative(self, path: str) -> str:
        """`path` relative to the root, lexically normalised; refused when it leaves it."""
        if os.path.isabs(path):
            return self._inside(path, os.sep + os.path.normpath(path).lstrip(os.sep))
        normal = posixpath.normpath(path)
        if self._as_given and _under(normal, self._as_given):
            return self._inside(path, os.path.normpath(os.path.join(self._cwd, normal)))
        if normal == ".." or normal.startswith("../"):
            raise PathNotAllowed(path, "leaves the data root")
        return normal

    def _inside(self, path: str, normal: str) -> str:
        """The absolute, normalised `normal` relative to the root (as given, or real)."""
        for root in (self._given, self._root):
            if _under(normal, root):
                return os.path.relpath(normal, root)
        raise PathNotAllowed(path, "is outside the data root")

    def _path(self, key: str) -> str:
        """The file of a canonical key; PathNotAllowed for anything else (defence in depth:
        the file system may have changed since `locate`)."""
        if self.locate(key) != key:
            raise PathNotAllowed(key, "is not a canonical key (it goes through a link)")
        return os.path.join(self._root, key)

    async def download_request(self, key: str) -> TransferRequest:
        """Through this API's own download endpoint (its URL is the HTTP layer's)."""
        await asyncio.to_thread(self._existing_file, key)
        return TransferRequest("get", None)

    def _existing_file(self, key: str) -> None:
        if not key or not os.path.isfile(self._path(key)):
            raise FileNotFound(key)

    async def upload_request(
        self, job_id: int, kind: FileKind, base_path: str, folder: str
    ) -> TransferRequest:
        """Through this API's own multipart upload endpoint (its URL is the HTTP layer's)."""
        return TransferRequest("post", None)

    async def write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        """Stream into a temporary file next to the target, then rename it into place."""
        target = await asyncio.to_thread(self._writable, key)
        handle, temporary = await asyncio.to_thread(_temporary, key, os.path.dirname(target))
        try:
            size = await _copy(chunks, handle, max_bytes, key)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(_rename, key, temporary, target)
        except BaseException:
            handle.close()
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return size

    def _writable(self, key: str) -> str:
        """The target path, its folder made; never a link (not written through) or a folder."""
        target = self._path(key) if key else ""
        if not key or os.path.islink(target) or os.path.isdir(target):
            raise PathNotAllowed(key, "is not a writable file path")
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise PathNotAllowed(key, "has a file where a folder should be") from None
        except OSError as exc:
            raise Unavailable(f"cannot create the folder of {key!r}: {exc.strerror}") from None
        return target

    async def read(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._open, key)
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    def _open(self, key: str) -> BinaryIO:
        """The regular file of `key`, opened without following a final link."""
        if not key:
            raise FileNotFound(key)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self._path(key), flags)
        except _NOT_FOUND:
            raise FileNotFound(key) from None
        except OSError as exc:
            raise PathNotAllowed(key, f"cannot be read ({exc.strerror})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise FileNotFound(key)
        return os.fdopen(fd, "rb")


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _temporary(key: str, folder: str) -> tuple[BinaryIO, str]:
    """A new file (mode per umask, like any other) that no link can redirect."""
    path = os.path.join(folder, f".upload-{secrets.token_hex(8)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        raise Unavailable(f"cannot store {key!r}: {exc.strerror}") from None
    return os.fdopen(fd, "wb"), path


def _rename(key: str, temporary: str, target: str) -> None:
    try:
        os.replace(temporary, target)
    except OSError as exc:
        if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
            raise PathNotAllowed(key, "is a folder") from None
        raise Unavailable(f"cannot store {key!r}: {exc.strerror}") from None


async def _copy(chunks: AsyncIterator[bytes], handle: BinaryIO, max_bytes: int, key: str) -> int:
    """Copy, gathering small chunks into CHUNK-sized writes (fewer thread hops)."""
    size = 0
    pending = bytearray()
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"{key}: larger than {max_bytes} bytes")
        pending += chunk
        if len(pending) >= CHUNK:
            await _write(handle, bytes(pending), key)
            pending = bytearray()
    if pending:
        await _write(handle, bytes(pending), key)
    return size


async def _write(handle: BinaryIO, data: bytes, key: str) -> None:
    try:
        await asyncio.to_thread(handle.write, data)
    except OSError as exc:
        raise Unavailable(f"cannot store {key!r}: {exc.strerror}") from None
