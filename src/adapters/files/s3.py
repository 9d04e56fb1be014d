"""Job files in S3 (or any S3-compatible store): workers move bytes with pre-signed requests,
the API never carries them. Blocking boto3 calls run in a thread."""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import AsyncIterator, Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import FileNotFound, PathNotAllowed, Unavailable, UnsupportedOperation
from domain.jobs import FileKind
from domain.transfers import TransferRequest

SCHEME = "s3://"
USE_URLS = "files live in S3: use GET /files/{id}/url and POST /jobs/{id}/files/url"
MISSING = ("404", "NoSuchKey", "NotFound")


def make_s3_client(region: str | None, endpoint_url: str | None) -> Any:
    """A SigV4, path-style client (path style works with every S3-compatible store), with
    bounded timeouts and retries so an outage is an error, not a hung request."""
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=5,
            read_timeout=20,
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=32,
        ),
    )


class S3FileStore:
    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        upload_ttl_seconds: int = 600,
        download_ttl_seconds: int = 600,
        max_upload_bytes: int = 10 * 1024**3,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._upload_ttl = upload_ttl_seconds
        self._download_ttl = download_ttl_seconds
        self._max_upload = max_upload_bytes

    def locate(self, path: str) -> str:
        """`s3://BUCKET/key` or a key relative to the bucket -> the normalised key."""
        key = path
        if path.startswith(SCHEME):
            bucket, _, key = path[len(SCHEME) :].partition("/")
            if bucket != self._bucket:
                raise PathNotAllowed(path, f"is not in the bucket {self._bucket!r}")
        if "\x00" in key or key.startswith("/"):
            raise PathNotAllowed(path, "is not a key of the bucket")
        normal = posixpath.normpath(key) if key else "."
        if normal == ".." or normal.startswith("../"):
            raise PathNotAllowed(path, "leaves the bucket")
        return "" if normal == "." else normal

    async def download_request(self, key: str) -> TransferRequest:
        """HEAD first (a missing object is FileNotFound now, not a 404 at the worker)."""
        if not key:
            raise FileNotFound(key)
        await self._call(key, self._client.head_object, Bucket=self._bucket, Key=key)
        url = await self._call(
            key,
            self._client.generate_presigned_url,
            "get_object",
            Params={"Bucket": self._bucket, "Key": key},
            ExpiresIn=self._download_ttl,
        )
        return TransferRequest("get", url)

    async def upload_request(
        self, job_id: int, kind: FileKind, base_path: str, folder: str
    ) -> TransferRequest:
        """A pre-signed POST whose policy confines the key to `folder/` and bounds the size."""
        return await self.presigned_upload(folder)

    async def presigned_upload(self, folder: str) -> TransferRequest:
        """The pre-signed POST of `upload_request`, for any folder key (the user API's too)."""
        prefix = folder.rstrip("/") + "/" if folder else ""
        post = await self._call(
            folder,
            self._client.generate_presigned_post,
            self._bucket,
            prefix + "${filename}",
            Conditions=[
                ["starts-with", "$key", prefix],
                ["content-length-range", 0, self._max_upload],
            ],
            ExpiresIn=self._upload_ttl,
        )
        return TransferRequest("post", post["url"], data=dict(post["fields"]))

    async def write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        raise UnsupportedOperation(USE_URLS)

    def read(self, key: str) -> AsyncIterator[bytes]:
        raise UnsupportedOperation(USE_URLS)

    async def _call(self, key: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a boto3 call in a thread; its errors become domain errors."""
        try:
            return await asyncio.to_thread(method, *args, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in MISSING:
                raise FileNotFound(key) from None
            raise Unavailable(f"S3 refused the request for {key!r}: {code or exc}") from None
        except BotoCoreError as exc:
            raise Unavailable(f"S3 cannot be used: {exc}") from None
