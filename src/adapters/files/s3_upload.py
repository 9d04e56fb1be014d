"""Stream bytes into one S3 object as they arrive: a file that fits in one part is one
put_object; a larger one is a multipart upload of parts of at least PART_SIZE bytes, sent
as each fills, completed at the end and aborted on any failure (a size limit passed, the
sender gone, S3 refusing, the task cancelled), so no half object and no pending upload stay.
Memory: one part. Every boto3 call runs in a thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from domain.errors import TooLarge

PART_SIZE = 8 * 1024 * 1024  # S3 wants every part but the last to be >= 5 MiB

log = logging.getLogger("jobcloud.files")
Call = Callable[..., Awaitable[Any]]  # S3FileStore._call: a thread, errors -> domain errors


class _Multipart:
    """One multipart upload, created when its first full part is ready."""

    def __init__(self, client: Any, bucket: str, key: str, call: Call) -> None:
        self._client = client
        self._where = {"Bucket": bucket, "Key": key}
        self._call = call
        self.upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    async def send(self, part: bytearray) -> None:
        key = self._where["Key"]
        if self.upload_id is None:
            created = await self._call(key, self._client.create_multipart_upload, **self._where)
            self.upload_id = str(created["UploadId"])
        number = len(self._parts) + 1
        sent = await self._call(
            key,
            self._client.upload_part,
            **self._where,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=part,
        )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    async def complete(self) -> None:
        await self._call(
            self._where["Key"],
            self._client.complete_multipart_upload,
            **self._where,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    async def abort(self) -> None:
        """Drop the parts sent; runs to its end even if the caller is cancelled again."""
        if self.upload_id is None:
            return
        done = asyncio.ensure_future(
            asyncio.to_thread(
                self._client.abort_multipart_upload, **self._where, UploadId=self.upload_id
            )
        )
        try:
            await asyncio.shield(done)
        except Exception as exc:  # S3 keeps the parts until a lifecycle rule removes them
            log.warning("could not abort the upload of %s: %s", self._where["Key"], exc)


async def stream_to_s3(
    client: Any,
    bucket: str,
    key: str,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
    call: Call,
    *,
    part_size: int = PART_SIZE,
) -> int:
    """Write `chunks` to `bucket/key`; TooLarge past `max_bytes`. Returns the size."""
    upload = _Multipart(client, bucket, key, call)
    part, size = bytearray(), 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"{key}: larger than {max_bytes} bytes")
            part += chunk
            if len(part) >= part_size:
                await upload.send(part)
                part = bytearray()
        if upload.upload_id is None:
            await call(key, client.put_object, Bucket=bucket, Key=key, Body=bytes(part))
            return size
        if part:
            await upload.send(part)
        await upload.complete()
    except BaseException:
        await upload.abort()
        raise
    return size
