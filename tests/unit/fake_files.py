"""A hand-written in-memory FileStore with the port's confinement rule."""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator

from domain.errors import FileNotFound, PathNotAllowed, TooLarge
from domain.jobs import FileKind
from domain.transfers import TransferRequest


class InMemoryFileStore:
    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.blobs: dict[str, bytes] = dict(files or {})
        self.upload_requests: list[tuple[int, FileKind, str, str]] = []

    def locate(self, path: str) -> str:
        if path.startswith("/") or "\x00" in path:
            raise PathNotAllowed(path, "is absolute")
        key = posixpath.normpath(path)
        if key == ".." or key.startswith("../"):
            raise PathNotAllowed(path)
        return "" if key == "." else key

    async def download_request(self, key: str) -> TransferRequest:
        if key not in self.blobs:
            raise FileNotFound(key)
        return TransferRequest("GET", f"/files/{key}/download")

    async def upload_request(
        self, job_id: int, kind: FileKind, base_path: str, folder: str
    ) -> TransferRequest:
        self.upload_requests.append((job_id, kind, base_path, folder))
        return TransferRequest("POST", f"/jobs/{job_id}/files/upload", data={"key": folder})

    async def write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        data = b""
        async for chunk in chunks:
            data += chunk
            if len(data) > max_bytes:
                raise TooLarge(f"more than {max_bytes} bytes")
        self.blobs[key] = data
        return len(data)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        if key not in self.blobs:
            raise FileNotFound(key)
        yield self.blobs[key]
