"""The user file store on local disk: the worker's LocalFileStore (confinement, streamed
writes and reads) plus listing, folders, renames and deletes. Filesystem calls in a thread."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from collections.abc import AsyncIterator
from pathlib import Path

from adapters.files.local import LocalFileStore
from domain.errors import Conflict, FileNotFound, PathNotAllowed, Unavailable
from domain.transfers import TransferRequest
from domain.userfiles.ports import FileEntry


class LocalUserFiles:
    def __init__(self, root: Path) -> None:
        self._store = LocalFileStore(root)
        self._root = os.path.realpath(root)

    def locate(self, path: str) -> str:
        return self._store.locate(path)

    def _path(self, key: str) -> str:
        if self._store.locate(key) != key:
            raise PathNotAllowed(key, "is not a canonical key (it goes through a link)")
        return os.path.join(self._root, key)

    async def entry(self, key: str) -> FileEntry | None:
        return await asyncio.to_thread(self._entry, key)

    def _entry(self, key: str) -> FileEntry | None:
        try:
            info = os.lstat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISDIR(info.st_mode):
            return FileEntry(key, True, 0)
        if stat.S_ISREG(info.st_mode):
            return FileEntry(key, False, info.st_size)
        return None

    async def listing(self, key: str, *, recursive: bool) -> list[FileEntry]:
        return await asyncio.to_thread(self._listing, key, recursive)

    def _listing(self, key: str, recursive: bool) -> list[FileEntry]:
        folder = self._path(key)
        if not os.path.isdir(folder) or os.path.islink(folder):
            raise FileNotFound(key)
        found: list[FileEntry] = []
        for top, dirs, files in os.walk(folder, followlinks=False):
            relative = os.path.relpath(top, self._root).replace(os.sep, "/")
            for name in dirs:
                if not os.path.islink(os.path.join(top, name)):
                    found.append(FileEntry(f"{relative}/{name}", True, 0))
            for name in files:
                path = os.path.join(top, name)
                info = os.lstat(path)
                if stat.S_ISREG(info.st_mode) and not name.startswith(".upload-"):
                    found.append(FileEntry(f"{relative}/{name}", False, info.st_size))
            if not recursive:
                break
        return sorted(found, key=lambda e: e.key)

    async def make_folder(self, key: str) -> None:
        await asyncio.to_thread(self._make_folder, key)

    def _make_folder(self, key: str) -> None:
        try:
            os.makedirs(self._path(key), exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise Conflict(f"{key!r}: a file is in the way of this folder") from None
        except OSError as exc:
            raise Unavailable(f"cannot make the folder {key!r}: {exc.strerror}") from None

    async def rename(self, source: str, target: str) -> None:
        await asyncio.to_thread(self._rename, source, target)

    def _rename(self, source: str, target: str) -> None:
        old, new = self._path(source), self._path(target)
        if not os.path.lexists(old):
            raise FileNotFound(source)
        if os.path.lexists(new):
            raise Conflict(f"{target!r} already exists")
        if (new + os.sep).startswith(old + os.sep):
            raise Conflict(f"cannot move {source!r} into itself")
        try:
            os.makedirs(os.path.dirname(new), exist_ok=True)
            os.rename(old, new)
        except OSError as exc:
            raise Unavailable(f"cannot move {source!r}: {exc.strerror}") from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> None:
        path = self._path(key)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise Unavailable(f"cannot delete {key!r}: {exc.strerror}") from None

    async def write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        return await self._store.write(key, chunks, max_bytes)

    def read(self, key: str) -> AsyncIterator[bytes]:
        return self._store.read(key)

    async def download_request(self, key: str, route: str) -> TransferRequest:
        return TransferRequest("get", route)

    async def upload_request(self, folder: str, route: str) -> TransferRequest:
        return TransferRequest("post", route)
