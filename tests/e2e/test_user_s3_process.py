"""The user API as a real process with FILESYSTEM=s3 (a moto server over HTTP): an upload of
several parts streams into S3 whole, and a client that cuts the connection midway leaves no
object and no pending multipart upload."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.auth.local import LocalIssuer
from tests.contract.s3_support import REGION
from tests.e2e.test_server_process import BIN, free_port, start, stop, wait_ready

MIB = 1024 * 1024
BOUNDARY = "jobcloud-e2e-boundary"


@dataclass(frozen=True)
class UserApi:
    base: str
    port: int
    auth: dict[str, str]


@pytest.fixture
def user_api(tmp_path: Path, aws_env: str, bucket: str) -> Iterator[UserApi]:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "FILESYSTEM"))}
    env |= {
        "FILESYSTEM": "s3",
        "S3_BUCKET": bucket,
        "S3_REGION": REGION,
        "S3_ENDPOINT_URL": aws_env,
        "MAX_UPLOAD_BYTES": str(64 * MIB),
    }
    command = [str(BIN / "jobcloud"), "serve", "--api", "user", "--user-port", str(port)]
    process = start([*command, "--data-dir", str(data_dir)], env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        token = LocalIssuer(data_dir).mint("alice", ["users"], 600)
        yield UserApi(base, port, {"Authorization": f"Bearer {token}"})
    finally:
        stop(process)


def pending(s3_client: Any, bucket: str) -> list[dict[str, Any]]:
    return list(s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def eventually(check: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_a_large_upload_streams_into_s3_whole(
    user_api: UserApi, s3_client: Any, bucket: str
) -> None:
    data = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(655_360))
    assert len(data) == 20 * MIB
    with httpx.Client(base_url=user_api.base, headers=user_api.auth, timeout=60) as user:
        reply = user.post("/files/data/run1/upload", files={"file": ("frames.tif", data)})
        assert reply.status_code == 201, reply.text
        assert reply.json()["bytes"] == len(data)
    stored = s3_client.get_object(Bucket=bucket, Key="alice/data/run1/frames.tif")
    assert hashlib.sha256(stored["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert str(stored["ETag"]).strip('"').endswith("-3")  # 8 MiB parts: 8 + 8 + 4
    assert pending(s3_client, bucket) == []


def test_a_connection_cut_midway_leaves_nothing(
    user_api: UserApi, s3_client: Any, bucket: str
) -> None:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    request = (
        "POST /files/data/run1/upload HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{user_api.port}\r\n"
        f"Authorization: {user_api.auth['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(head) + 40 * MIB}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", user_api.port), timeout=30) as sock:
        sock.sendall(request + head)
        for _ in range(12):  # 12 of the 40 MiB announced: one part in S3, more on the way
            sock.sendall(b"c" * MIB)
        assert eventually(lambda: len(pending(s3_client, bucket)) == 1)
    assert eventually(lambda: pending(s3_client, bucket) == [])
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="alice/")
    assert listed.get("KeyCount", 0) == 0
