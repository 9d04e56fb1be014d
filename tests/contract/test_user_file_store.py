"""The UserFileStore port (local disk; S3 is not built yet): entries, listings, folders,
renames, idempotent deletes, streamed writes and reads, links never followed."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.files.user_local import LocalUserFiles
from domain.errors import Conflict, FileNotFound, PathNotAllowed
from domain.userfiles.ports import FileEntry, UserFileStore


@pytest.fixture(params=["local"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> UserFileStore:
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


async def test_links_are_not_followed(files: UserFileStore, tmp_path: Path) -> None:
    await files.write("bob/data/secret", chunks(b"s"), 10)
    root = tmp_path / "root"
    (root / "al/data").mkdir(parents=True)
    os.symlink(root / "bob/data", root / "al/data/link")
    os.symlink(tmp_path, root / "al/data/out")
    assert files.locate("al/data/link/secret") == "bob/data/secret"  # the caller confines
    with pytest.raises(PathNotAllowed):
        files.locate("al/data/out/x")
    assert await files.listing("al/data", recursive=True) == []


async def test_transfer_requests_name_this_apis_routes(files: UserFileStore) -> None:
    await files.write("al/data/a", chunks(b"a"), 10)
    down = await files.download_request("al/data/a", "/files/data/a/download")
    assert (down.method, down.url) == ("get", "/files/data/a/download")
    up = await files.upload_request("al/data", "/files/data/upload")
    assert (up.method, up.url) == ("post", "/files/data/upload")
