"""One FileStore suite on local disk and on S3 (a real moto server over HTTP)."""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from adapters.files.local import LocalFileStore
from adapters.files.s3 import S3FileStore
from domain.errors import (
    FileNotFound,
    PathNotAllowed,
    TooLarge,
    Unavailable,
    UnsupportedOperation,
)
from domain.jobs import FileKind
from domain.ports import FileStore

TTL = 300
MAX_UPLOAD = 5 * 1024 * 1024


class Files:
    """A store under test plus how to put a file into it directly (the user side's job)."""

    def __init__(self, store: FileStore, kind: str, put: Any, root: str, client: Any = None):
        self.store, self.kind, self.put, self.root = store, kind, put, root
        self.client = client


@pytest.fixture(params=["local", "s3"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> Files:
    if request.param == "local":
        root = tmp_path / "root"
        root.mkdir()

        def put_local(key: str, data: bytes) -> None:
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(data)

        return Files(LocalFileStore(root), "local", put_local, str(root))
    client = request.getfixturevalue("s3_client")
    name = request.getfixturevalue("bucket")

    def put_s3(key: str, data: bytes) -> None:
        client.put_object(Bucket=name, Key=key, Body=data)

    store = S3FileStore(client, name, upload_ttl_seconds=TTL, max_upload_bytes=MAX_UPLOAD)
    return Files(store, "s3", put_s3, f"s3://{name}", client)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_locate_accepts_ids_inside_the_root(files: Files) -> None:
    locate = files.store.locate
    assert locate("alice/in/a.tif") == "alice/in/a.tif"
    assert locate("alice/./in//a.tif") == "alice/in/a.tif"
    assert locate("alice/x/../in/a.tif") == "alice/in/a.tif"
    assert locate(f"{files.root}/alice/in/a.tif") == "alice/in/a.tif"


@pytest.mark.parametrize(
    "path", ["../etc/passwd", "alice/../../etc", "..", "/etc/passwd", "a\x00b"]
)
def test_locate_refuses_what_leaves_the_root(files: Files, path: str) -> None:
    with pytest.raises(PathNotAllowed):
        files.store.locate(path)


def test_locate_refuses_other_roots(files: Files, tmp_path: Path) -> None:
    other = "s3://someone-elses-bucket/alice/in/a.tif" if files.kind == "s3" else f"{tmp_path}/x"
    with pytest.raises(PathNotAllowed):
        files.store.locate(other)
    with pytest.raises(PathNotAllowed):
        files.store.locate(f"{files.root}/../neighbour/a.tif")


def test_links_out_of_the_root_are_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "alice").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("no")
    os.symlink(outside, root / "alice/link")
    store = LocalFileStore(root)
    with pytest.raises(PathNotAllowed):
        store.locate("alice/link/secret")
    with pytest.raises(PathNotAllowed):
        store.locate("alice/link/new-file")


@pytest.mark.parametrize("given", ["../user_data", "./data/../user_data", "user_data"])
def test_a_relative_root_takes_ids_relative_to_the_working_directory(
    tmp_path: Path, given: str
) -> None:
    """DECODE's user API writes ids as os.path.join(USER_DATA_ROOT_PATH, ...)."""
    cwd = tmp_path / "api" if given.startswith("..") else tmp_path
    cwd.mkdir(exist_ok=True)
    (tmp_path / "user_data/u1/data").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    store = LocalFileStore(Path(given), cwd=str(cwd))
    prefix = os.path.normpath(given)
    assert store.locate(f"{prefix}/u1/data/f.tif") == "u1/data/f.tif"
    assert store.locate(f"{given}/u1/data/f.tif") == "u1/data/f.tif"
    assert store.locate("u1/data/f.tif") == "u1/data/f.tif"  # relative to the root
    assert store.locate(f"{tmp_path}/user_data/u1/data/f.tif") == "u1/data/f.tif"
    for escape in (f"{prefix}/../../x", f"{prefix}/u1/../../../x", "../x", f"{tmp_path}/x"):
        with pytest.raises(PathNotAllowed):
            store.locate(escape)


async def test_a_missing_file_is_not_found(files: Files) -> None:
    with pytest.raises(FileNotFound):
        await files.store.download_request(files.store.locate("alice/in/none.tif"))


async def test_folders_and_the_root_are_not_files(files: Files) -> None:
    files.put("alice/in/a.tif", b"a")
    for key in ("", "alice", "alice/in"):
        with pytest.raises(FileNotFound):
            await files.store.download_request(key)


async def test_download_request_fetches_the_bytes(files: Files) -> None:
    data = os.urandom(200_000)
    files.put("alice/in/a.tif", data)
    request = await files.store.download_request("alice/in/a.tif")
    assert request.method == "get"
    if files.kind == "local":
        assert request.url is None  # through this API: the HTTP layer writes the URL
        got = b"".join([c async for c in files.store.read("alice/in/a.tif")])
    else:
        assert request.url is not None
        async with httpx.AsyncClient() as http:
            got = (await http.get(request.url)).content
    assert got == data


async def test_upload_lands_in_the_folder(files: Files) -> None:
    folder = "alice/jobs/7/output"
    request = await files.store.upload_request(7, FileKind.OUTPUT, "fits", f"{folder}/fits")
    assert request.method == "post"
    if files.kind == "local":
        assert request.url is None
        size = await files.store.write(f"{folder}/fits/r.h5", chunks(b"ab", b"cd"), MAX_UPLOAD)
        assert size == 4
        got = b"".join([c async for c in files.store.read(f"{folder}/fits/r.h5")])
    else:
        assert request.url is not None
        async with httpx.AsyncClient() as http:
            sent = await http.post(
                request.url, data=request.data, files={"file": ("r.h5", b"abcd")}
            )
            assert sent.status_code in (200, 201, 204), sent.text
        listed = files.client.list_objects_v2(Bucket=files.root[5:], Prefix="alice/")
        assert [o["Key"] for o in listed["Contents"]] == [f"{folder}/fits/r.h5"]
        grant = await files.store.download_request(f"{folder}/fits/r.h5")
        assert grant.url is not None
        async with httpx.AsyncClient() as http:
            got = (await http.get(grant.url)).content
    assert got == b"abcd"


@pytest.fixture
def s3_store(s3_client: Any, bucket: str) -> S3FileStore:
    return S3FileStore(s3_client, bucket, upload_ttl_seconds=TTL, max_upload_bytes=MAX_UPLOAD)


async def test_s3_post_policy_confines_key_size_and_time(s3_store: S3FileStore) -> None:
    before = datetime.now(UTC)
    request = await s3_store.upload_request(7, FileKind.LOG, "", "alice/jobs/7/log")
    policy = json.loads(base64.b64decode(request.data["policy"]))
    conditions = policy["conditions"]
    assert ["starts-with", "$key", "alice/jobs/7/log/"] in conditions
    assert ["content-length-range", 0, MAX_UPLOAD] in conditions
    assert request.data["key"] == "alice/jobs/7/log/${filename}"
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=TTL - 5) <= expires <= before + timedelta(seconds=TTL + 5)


async def test_s3_outage_is_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config(signature_version="s3v4", retries={"total_max_attempts": 1})
    client = boto3.client(
        "s3",
        region_name="eu-central-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )
    with pytest.raises(Unavailable, match="Could not connect"):
        await S3FileStore(client, "jobcloud-none").download_request("alice/in/a.tif")


async def test_s3_has_no_direct_transfer(s3_store: S3FileStore) -> None:
    with pytest.raises(UnsupportedOperation):
        await s3_store.write("a/b", chunks(b"x"), 10)
    with pytest.raises(UnsupportedOperation):
        s3_store.read("a/b")


async def test_local_too_large_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    with pytest.raises(TooLarge):
        await store.write("jobs/out/big.bin", chunks(b"x" * 600, b"x" * 600), 1000)
    assert list((tmp_path / "jobs/out").iterdir()) == []


async def test_local_large_files_stream_in_chunks(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    block = os.urandom(1024 * 1024)
    size = await store.write("big.bin", chunks(*[block] * 20), 50 * 1024 * 1024)
    assert size == 20 * len(block)
    sizes = [len(chunk) async for chunk in store.read("big.bin")]
    assert len(sizes) == 20
    assert max(sizes) <= 1024 * 1024


async def test_local_never_writes_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "root/out").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    os.symlink(victim, tmp_path / "root/out/x.txt")
    store = LocalFileStore(tmp_path / "root")
    with pytest.raises(PathNotAllowed):
        await store.write("out/x.txt", chunks(b"evil"), 100)
    assert victim.read_text() == "keep"


def test_local_canonical_keys_resolve_links_inside_the_root(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "bob").mkdir(parents=True)
    (real / "alice/out").mkdir(parents=True)
    os.symlink(real / "bob", real / "alice/out/link")
    os.symlink(real, tmp_path / "data")  # the root is configured through a link
    store = LocalFileStore(tmp_path / "data")
    assert store.locate(f"{tmp_path}/data/alice/in/a.tif") == "alice/in/a.tif"
    assert store.locate(f"{real}/alice/in/a.tif") == "alice/in/a.tif"
    assert store.locate(f"/{tmp_path}/data/alice/in/a.tif") == "alice/in/a.tif"
    # A link in a job's folder cannot smuggle a key into it: the key names where it leads.
    assert store.locate("alice/out/link/x.h5") == "bob/x.h5"


async def test_local_refuses_keys_through_links(tmp_path: Path) -> None:
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob/x.h5").write_bytes(b"bob's")
    (tmp_path / "alice").mkdir()
    os.symlink(tmp_path / "bob", tmp_path / "alice/link")
    store = LocalFileStore(tmp_path)
    with pytest.raises(PathNotAllowed):
        await store.write("alice/link/x.h5", chunks(b"evil"), 100)
    with pytest.raises(PathNotAllowed):
        await anext(store.read("alice/link/x.h5"))
    assert (tmp_path / "bob/x.h5").read_bytes() == b"bob's"


async def test_local_read_of_a_missing_file_or_folder_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "alice").mkdir()
    store = LocalFileStore(tmp_path)
    for key in ("alice/none.tif", "alice", ""):
        with pytest.raises(FileNotFound):
            await anext(store.read(key))


async def test_local_written_files_get_ordinary_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        await LocalFileStore(tmp_path).write("out/r.h5", chunks(b"x"), 10)
    finally:
        os.umask(umask)
    assert (tmp_path / "out/r.h5").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["r.h5"]
