"""The user-side file store: a tree per user under one root (a folder, or a bucket)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from domain.transfers import TransferRequest


@dataclass(frozen=True, slots=True)
class FileEntry:
    key: str  # relative to the root, no trailing "/"
    is_dir: bool
    size: int  # bytes; 0 for folders


class UserFileStore(Protocol):
    """Keys are canonical paths relative to the root (see FileStore.locate)."""

    def locate(self, path: str) -> str:
        """The canonical key of `path`, or PathNotAllowed when it escapes the root."""
        ...

    async def entry(self, key: str) -> FileEntry | None:
        """The file or folder at `key`, or None."""
        ...

    async def listing(self, key: str, *, recursive: bool) -> list[FileEntry]:
        """What the folder `key` holds (everything below it when recursive), sorted by key;
        FileNotFound when it is not a folder."""
        ...

    async def make_folder(self, key: str) -> None: ...

    async def rename(self, source: str, target: str) -> None:
        """Move a file or folder; FileNotFound, or Conflict when the target exists."""
        ...

    async def delete(self, key: str) -> None:
        """Remove a file or a folder with all it holds; nothing there is not an error."""
        ...

    async def write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int: ...

    def read(self, key: str) -> AsyncIterator[bytes]: ...

    async def download_request(self, key: str, route: str) -> TransferRequest:
        """How to fetch one file: pre-signed, or `route` (this API's own download path)."""
        ...

    async def upload_request(self, folder: str, route: str) -> TransferRequest:
        """How to upload into `folder`: a pre-signed POST, or `route` (this API's own)."""
        ...
