"""The UserFileStore port on local disk and S3 (a moto server over HTTP): entries, listings,
folders, renames, idempotent deletes, streamed writes and reads, links never followed."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters.files.user_local import LocalUserFiles
from adapters.files.user_s3 import S3UserFiles
from domain.errors import Conflict, FileNotFound, PathNotAllowed, TooLarge
from domain.userfiles.ports import FileEntry, UserFileStore


@pytest.fixture(params=["local", "s3"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> UserFileStore:
    if request.param == "s3":
        client = request.getfixturevalue("s3_client")
        bucket = request.getfixturevalue("bucket")
        return S3UserFiles(client, bucket, ttl_seconds=300, max_upload_bytes=1000)
    (tmp_path / "root").mkdir()
    return LocalUserFiles(tmp_path / "root")


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read(files: UserFileStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in files.read(key)])


async def test_write_entry_and_listing(files: UserFileStore) -> None:
    assert await files.write("al/data/r/a.txt", chunks(b"ab", b"c"), 10) == 3
    await files.write("al/data/r/s/b.txt", chunks(b"b"), 10)
    assert await files.entry("al/data/r/a.txt") == FileEntry("al/data/r/a.txt", False, 3)
    assert await files.entry("al/data/r") == FileEntry("al/data/r", True, 0)
    assert await files.entry("al/data/nope") is None
    assert await files.listing("al/data/r", recursive=False) == [
        FileEntry("al/data/r/a.txt", False, 3),
        FileEntry("al/data/r/s", True, 0),
    ]
    assert [e.key for e in await files.listing("al/data", recursive=True)] == [
        "al/data/r",
        "al/data/r/a.txt",
        "al/data/r/s",
        "al/data/r/s/b.txt",
    ]
    with pytest.raises(FileNotFound):
        await files.listing("al/data/r/a.txt", recursive=False)
    assert await read(files, "al/data/r/s/b.txt") == b"b"


async def test_folders_renames_and_deletes(files: UserFileStore) -> None:
    await files.make_folder("al/config/x/y")
    await files.make_folder("al/config/x/y")  # again: fine
    await files.write("al/config/f", chunks(b"f"), 10)
    with pytest.raises(Conflict):
        await files.make_folder("al/config/f/z")
    await files.rename("al/config/f", "al/config/x/g")
    assert await read(files, "al/config/x/g") == b"f"
    with pytest.raises(FileNotFound):
        await files.rename("al/config/f", "al/config/h")
    await files.write("al/config/h", chunks(b"h"), 10)
    with pytest.raises(Conflict):
        await files.rename("al/config/h", "al/config/x/g")
    with pytest.raises(Conflict):
        await files.rename("al/config/x", "al/config/x/y/inside")
    await files.delete("al/config/x")
    await files.delete("al/config/x")
    assert await files.entry("al/config/x") is None
    assert await files.entry("al/config/h") is not None


async def test_links_are_not_followed(tmp_path: Path) -> None:
    files = LocalUserFiles(tmp_path / "root")
    await files.write("bob/data/secret", chunks(b"s"), 10)
    root = tmp_path / "root"
    (root / "al/data").mkdir(parents=True)
    os.symlink(root / "bob/data", root / "al/data/link")
    os.symlink(tmp_path, root / "al/data/out")
    assert files.locate("al/data/link/secret") == "bob/data/secret"  # the caller confines
    with pytest.raises(PathNotAllowed):
        files.locate("al/data/out/x")
    assert await files.listing("al/data", recursive=True) == []


async def test_transfer_requests(files: UserFileStore) -> None:
    await files.write("al/data/a", chunks(b"a"), 10)
    down = await files.download_request("al/data/a", "/files/data/a/download")
    up = await files.upload_request("al/data", "/files/data/upload")
    if isinstance(files, LocalUserFiles):  # this API's own routes
        assert (down.method, down.url) == ("get", "/files/data/a/download")
        assert (up.method, up.url) == ("post", "/files/data/upload")
        return
    async with httpx.AsyncClient() as http:  # pre-signed, and really sent
        assert (await http.get(down.url)).content == b"a"
        sent = await http.post(up.url, data=up.data, files={"file": ("b.txt", b"bee")})
        assert sent.status_code in (200, 204), sent.text
    assert await read(files, "al/data/b.txt") == b"bee"
    policy = json.loads(base64.b64decode(up.data["policy"]))
    assert ["starts-with", "$key", "al/data/"] in policy["conditions"]
    assert ["content-length-range", 0, 1000] in policy["conditions"]


async def test_writes_past_the_limit_are_refused(files: UserFileStore) -> None:
    with pytest.raises(TooLarge):
        await files.write("al/data/big", chunks(b"x" * 6, b"x" * 6), 10)
    assert await files.entry("al/data/big") is None
