"""The user file store in S3: folders are key prefixes (an empty folder is a `key/` marker),
transfers are pre-signed, uploads through this API are streamed (`s3_upload`: parts sent as
they fill, never the whole file held). Every boto3 call runs in a thread; its errors become
domain errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from adapters.files.s3 import S3FileStore
from adapters.files.s3_upload import PART_SIZE, stream_to_s3
from domain.errors import Conflict, FileNotFound, PathNotAllowed
from domain.transfers import TransferRequest
from domain.userfiles.ports import FileEntry

CHUNK = 1024 * 1024


class S3UserFiles:
    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        ttl_seconds: int = 600,
        max_upload_bytes: int,
        part_size: int = PART_SIZE,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._part = part_size
        self._keys = S3FileStore(
            client, bucket, upload_ttl_seconds=ttl_seconds, max_upload_bytes=max_upload_bytes
        )

    def locate(self, path: str) -> str:
        return self._keys.locate(path)

    async def _call(self, key: str, method: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return await self._keys._call(key, method, *args, **kw)

    def _objects(self, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
        pages = self._client.get_paginator("list_objects_v2")
        extra = {"Delimiter": delimiter} if delimiter else {}
        yield from pages.paginate(Bucket=self._bucket, Prefix=prefix, **extra)

    async def entry(self, key: str) -> FileEntry | None:
        try:
            head = await self._call(key, self._client.head_object, Bucket=self._bucket, Key=key)
            return FileEntry(key, False, int(head["ContentLength"]))
        except FileNotFound:
            pass
        page = await self._call(
            key, self._client.list_objects_v2, Bucket=self._bucket, Prefix=key + "/", MaxKeys=1
        )
        return FileEntry(key, True, 0) if page.get("KeyCount", 0) else None

    async def listing(self, key: str, *, recursive: bool) -> list[FileEntry]:
        found = await asyncio.to_thread(self._listing, key, recursive)
        if found is None:
            raise FileNotFound(key)
        return found

    def _listing(self, key: str, recursive: bool) -> list[FileEntry] | None:
        prefix, seen = key + "/", False
        entries: dict[str, FileEntry] = {}
        for page in self._objects(prefix, None if recursive else "/"):
            for common in page.get("CommonPrefixes", []):
                seen = True
                name = common["Prefix"].rstrip("/")
                entries[name] = FileEntry(name, True, 0)
            for item in page.get("Contents", []):
                seen = True
                name = item["Key"]
                if recursive:  # every folder on the way is an entry too
                    parts = name[len(prefix) :].rstrip("/").split("/")
                    for depth in range(1, len(parts)):
                        folder = prefix + "/".join(parts[:depth])
                        entries[folder] = FileEntry(folder, True, 0)
                if name.endswith("/"):
                    if name != prefix:
                        entries[name.rstrip("/")] = FileEntry(name.rstrip("/"), True, 0)
                else:
                    entries[name] = FileEntry(name, False, int(item["Size"]))
        return sorted(entries.values(), key=lambda e: e.key) if seen else None

    async def _file_on_the_way(self, key: str) -> bool:
        """Whether `key` or a folder on its way is a file (S3 itself would not mind)."""
        parts = key.split("/")
        for depth in range(1, len(parts) + 1):
            try:
                await self._call(
                    key, self._client.head_object, Bucket=self._bucket, Key="/".join(parts[:depth])
                )
                return True
            except FileNotFound:
                continue
        return False

    async def make_folder(self, key: str) -> None:
        if await self._file_on_the_way(key):
            raise Conflict(f"{key!r}: a file is in the way of this folder")
        await self._call(key, self._client.put_object, Bucket=self._bucket, Key=key + "/", Body=b"")

    async def rename(self, source: str, target: str) -> None:
        entry = await self.entry(source)
        if entry is None:
            raise FileNotFound(source)
        if await self.entry(target) is not None:
            raise Conflict(f"{target!r} already exists")
        if (target + "/").startswith(source + "/"):
            raise Conflict(f"cannot move {source!r} into itself")
        keys = [source] if not entry.is_dir else await asyncio.to_thread(self._keys_under, source)
        for key in keys:
            new = target + key[len(source) :]
            copy = {"Bucket": self._bucket, "Key": key}
            await self._call(
                key, self._client.copy_object, Bucket=self._bucket, Key=new, CopySource=copy
            )
        await self._delete_keys(keys)

    def _keys_under(self, key: str) -> list[str]:
        return [
            item["Key"] for page in self._objects(key + "/") for item in page.get("Contents", [])
        ]

    async def delete(self, key: str) -> None:
        keys = [key, *await asyncio.to_thread(self._keys_under, key)]
        await self._delete_keys(keys)

    async def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = {"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True}
            await self._call(
                keys[0], self._client.delete_objects, Bucket=self._bucket, Delete=batch
            )

    async def write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        folder = key.rpartition("/")[0]
        if folder and await self._file_on_the_way(folder):
            raise PathNotAllowed(key, "has a file where a folder should be")
        current = await self.entry(key)
        if current is not None and current.is_dir:
            raise PathNotAllowed(key, "is not a writable file path")
        return await stream_to_s3(
            self._client, self._bucket, key, chunks, max_bytes, self._call, part_size=self._part
        )

    async def read(self, key: str) -> AsyncIterator[bytes]:
        reply = await self._call(key, self._client.get_object, Bucket=self._bucket, Key=key)
        body = reply["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def download_request(self, key: str, route: str) -> TransferRequest:
        return await self._keys.download_request(key)

    async def upload_request(self, folder: str, route: str) -> TransferRequest:
        return await self._keys.presigned_upload(folder)
