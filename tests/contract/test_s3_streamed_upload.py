"""Uploads into the S3 user file store are streamed (a moto server over HTTP): parts go to S3
as they fill, the file arrives whole, and a failed upload leaves neither an object nor a
pending multipart upload."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.files.s3_upload import PART_SIZE
from adapters.files.user_s3 import S3UserFiles
from domain.errors import TooLarge

CHUNK = 256 * 1024
MIN_PART = 5 * 1024 * 1024  # the smallest part S3 (and moto) accept but the last


def block(index: int) -> bytes:
    """CHUNK bytes that differ from block to block (a swapped or lost chunk shows)."""
    seed = hashlib.sha256(index.to_bytes(8, "big")).digest()
    return seed * (CHUNK // len(seed))


def pending(s3_client: Any, bucket: str) -> list[dict[str, Any]]:
    return list(s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def bytes_in_parts(s3_client: Any, bucket: str) -> int:
    return sum(
        part["Size"]
        for upload in pending(s3_client, bucket)
        for part in s3_client.list_parts(
            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        ).get("Parts", [])
    )


class Sender:
    """Yields `count` blocks; before each, checks that what S3 does not hold yet stays within
    one part (the store holds no more than that); `fail_after`: then the sender goes away."""

    def __init__(self, s3: Any, bucket: str, count: int, part: int, fail_after: int = -1):
        self.s3, self.bucket, self.count, self.part = s3, bucket, count, part
        self.fail_after = fail_after
        self.sent = 0
        self.most_pending = 0
        self.saw_upload = False

    async def chunks(self) -> AsyncIterator[bytes]:
        for index in range(self.count):
            if index == self.fail_after:
                raise ConnectionResetError("the client went away")
            held = self.sent - bytes_in_parts(self.s3, self.bucket)
            self.most_pending = max(self.most_pending, held)
            self.saw_upload = self.saw_upload or bool(pending(self.s3, self.bucket))
            self.sent += CHUNK
            yield block(index)


def store(s3_client: Any, bucket: str, **kw: Any) -> S3UserFiles:
    return S3UserFiles(s3_client, bucket, max_upload_bytes=kw.pop("limit", 1 << 30), **kw)


def stored(s3_client: Any, bucket: str, key: str) -> tuple[bytes, str]:
    reply = s3_client.get_object(Bucket=bucket, Key=key)
    return reply["Body"].read(), str(reply["ETag"])


async def test_a_file_of_several_parts_arrives_whole(s3_client: Any, bucket: str) -> None:
    count = (2 * PART_SIZE + PART_SIZE // 2) // CHUNK  # two and a half parts
    sender = Sender(s3_client, bucket, count, PART_SIZE)
    size = await store(s3_client, bucket).write("al/data/big.h5", sender.chunks(), 1 << 30)
    assert size == count * CHUNK
    body, etag = stored(s3_client, bucket, "al/data/big.h5")
    expected = b"".join(block(index) for index in range(count))
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(expected).hexdigest()
    assert etag.strip('"').endswith("-3")  # a multipart object of three parts
    assert sender.saw_upload
    assert sender.most_pending < PART_SIZE + CHUNK  # never more than one part held back
    assert pending(s3_client, bucket) == []


async def test_a_small_file_is_one_put(s3_client: Any, bucket: str) -> None:
    sender = Sender(s3_client, bucket, 3, PART_SIZE)
    assert await store(s3_client, bucket).write("al/data/s", sender.chunks(), 1 << 30) == 3 * CHUNK
    body, etag = stored(s3_client, bucket, "al/data/s")
    assert body == block(0) + block(1) + block(2)
    assert "-" not in etag  # not a multipart object
    assert not sender.saw_upload


async def test_past_the_limit_nothing_stays(s3_client: Any, bucket: str) -> None:
    count = 3 * MIN_PART // CHUNK
    sender = Sender(s3_client, bucket, count, MIN_PART)
    files = store(s3_client, bucket, part_size=MIN_PART)
    with pytest.raises(TooLarge):
        await files.write("al/data/huge", sender.chunks(), 2 * MIN_PART + CHUNK)
    assert sender.saw_upload  # parts had been sent: the upload was aborted
    assert pending(s3_client, bucket) == []
    assert await files.entry("al/data/huge") is None


async def test_a_sender_gone_midway_leaves_nothing(s3_client: Any, bucket: str) -> None:
    sender = Sender(s3_client, bucket, 100, MIN_PART, fail_after=2 * MIN_PART // CHUNK + 1)
    files = store(s3_client, bucket, part_size=MIN_PART)
    with pytest.raises(ConnectionResetError):
        await files.write("al/data/cut", sender.chunks(), 1 << 30)
    assert sender.saw_upload
    assert pending(s3_client, bucket) == []
    assert await files.entry("al/data/cut") is None


async def test_a_cancelled_upload_leaves_nothing(s3_client: Any, bucket: str) -> None:
    stalled = asyncio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(MIN_PART // CHUNK + 1):  # one part sent, then the sender stalls
            yield block(index)
        stalled.set()
        await asyncio.Event().wait()
        yield b""  # never reached

    files = store(s3_client, bucket, part_size=MIN_PART)
    task = asyncio.create_task(files.write("al/data/stalled", chunks(), 1 << 30))
    await asyncio.wait_for(stalled.wait(), 30)
    assert len(pending(s3_client, bucket)) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pending(s3_client, bucket) == []
    assert await files.entry("al/data/stalled") is None
