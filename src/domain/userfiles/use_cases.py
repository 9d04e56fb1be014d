"""What users do with their files: list, upload, fetch, make folders, rename, delete."""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

from domain.accounts.identity import require_user
from domain.errors import FileNotFound, PathNotAllowed
from domain.transfers import TransferRequest
from domain.use_cases.files import safe_relative
from domain.userfiles.ports import FileEntry, UserFileStore
from domain.userfiles.tree import FOLDERS, UserTree
from domain.workers import Principal


@dataclass(frozen=True, slots=True)
class Listed:
    path: str  # relative to the user's folder; folders end with "/"
    is_dir: bool
    size: int


@dataclass(frozen=True, slots=True)
class FolderDownload:
    """A folder to send as a zip: its name and (path inside the zip, key) of every file."""

    name: str
    files: list[tuple[str, str]]


class _UserFiles:
    def __init__(self, files: UserFileStore) -> None:
        self._files = files

    def _tree(self, principal: Principal) -> UserTree:
        return UserTree(self._files, require_user(principal))


class ListFiles(_UserFiles):
    async def __call__(
        self, principal: Principal, base_path: str, *, show_dirs: bool, recursive: bool
    ) -> list[Listed]:
        tree = self._tree(principal)
        key = tree.key(base_path, allow_root=True)
        if key == tree.username:
            entries = await self._user_root(key, recursive)
        else:
            entries = await self._files.listing(key, recursive=recursive)
        return [
            Listed(tree.path(e.key) + ("/" if e.is_dir else ""), e.is_dir, e.size)
            for e in entries
            if show_dirs or not e.is_dir
        ]

    async def _user_root(self, key: str, recursive: bool) -> list[FileEntry]:
        """The five folders always exist for the user, made on first sight."""
        entries: list[FileEntry] = []
        for folder in FOLDERS:
            await self._files.make_folder(f"{key}/{folder}")
            entries.append(FileEntry(f"{key}/{folder}", True, 0))
            if recursive:
                entries += await self._files.listing(f"{key}/{folder}", recursive=True)
        return entries


class UploadFile(_UserFiles):
    async def __call__(
        self,
        principal: Principal,
        folder: str,
        filename: str,
        chunks: AsyncIterator[bytes],
        max_bytes: int,
    ) -> str:
        """Store one file as `<folder>/<filename>`; returns the user's path of it."""
        tree = self._tree(principal)
        name = safe_relative(filename, "file name")
        if not name:
            raise PathNotAllowed(filename, "is not a file name")
        key = tree.key(posixpath.join(folder, name), writable=True)
        await self._files.write(key, chunks, max_bytes)
        return tree.path(key)


class UploadRequest(_UserFiles):
    async def __call__(self, principal: Principal, folder: str) -> TransferRequest:
        tree = self._tree(principal)
        key = tree.key(folder, writable=True)
        route = f"/files/{quote(tree.path(key))}/upload"
        return await self._files.upload_request(key, route)


class MakeFolder(_UserFiles):
    async def __call__(self, principal: Principal, path: str) -> str:
        tree = self._tree(principal)
        key = tree.key(path, writable=True)
        await self._files.make_folder(key)
        return tree.path(key) + "/"


class RenameFile(_UserFiles):
    async def __call__(self, principal: Principal, source: str, target: str) -> str:
        tree = self._tree(principal)
        source_key = tree.key(source, writable=True)
        target_key = tree.key(target, writable=True)
        if source_key.count("/") < 2:
            raise PathNotAllowed(source, "is one of your top folders: it cannot move")
        await self._files.rename(source_key, target_key)
        return tree.path(target_key)


class DeleteFile(_UserFiles):
    async def __call__(self, principal: Principal, path: str) -> None:
        """Idempotent; a top folder (config, data, ...) is emptied, not removed."""
        tree = self._tree(principal)
        key = tree.key(path)
        await self._files.delete(key)
        if key.count("/") < 2:
            await self._files.make_folder(key)


class DownloadRequest(_UserFiles):
    async def __call__(self, principal: Principal, path: str) -> TransferRequest:
        tree = self._tree(principal)
        key = tree.key(path)
        entry = await self._files.entry(key)
        if entry is None:
            raise FileNotFound(path)
        route = f"/files/{quote(tree.path(key))}/download"
        if entry.is_dir:  # a folder comes from this API, as a zip
            return TransferRequest("get", route)
        return await self._files.download_request(key, route)


class Download(_UserFiles):
    async def __call__(
        self, principal: Principal, path: str
    ) -> tuple[str, AsyncIterator[bytes]] | FolderDownload:
        """A file's name and bytes, or a folder's files to zip."""
        tree = self._tree(principal)
        key = tree.key(path)
        entry = await self._files.entry(key)
        if entry is None:
            raise FileNotFound(path)
        name = posixpath.basename(key)
        if not entry.is_dir:
            return name, self._files.read(key)
        listed = await self._files.listing(key, recursive=True)
        prefix = key + "/"
        files = [(e.key.removeprefix(prefix), e.key) for e in listed if not e.is_dir]
        return FolderDownload(name, files)
