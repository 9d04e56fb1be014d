"""The user's files over HTTP: upload, list, describe, download (file and zip), folders,
rename, delete, and confinement (403) against every way out of the user's tree."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.settings import Settings

Client = AsyncTestClient[Litestar]


async def upload(client: Client, headers: dict[str, str], folder: str, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/files/{folder}/upload", files={"file": (name, data)}, headers=headers
    )


async def test_upload_list_download_rename_delete(user_client: Client, user_auth) -> None:  # type: ignore[no-untyped-def]
    alice = user_auth("alice")
    reply = await upload(user_client, alice, "config/exp1", "param.yaml", b"lr: 0.1\n")
    assert reply.status_code == 201, reply.text
    assert reply.json() == {
        "path": "config/exp1/param.yaml",
        "type": "file",
        "size": "8 Bytes",
        "bytes": 8,
    }
    await upload(user_client, alice, "data/run1", "frames.tif", b"x" * 2500)

    listed = (await user_client.get("/files", headers=alice)).json()
    assert [f["path"] for f in listed] == ["config/", "data/", "artifact/", "output/", "log/"]
    listed = (
        await user_client.get("/files/data", params={"recursive": "true"}, headers=alice)
    ).json()
    assert listed == [
        {"path": "data/run1/", "type": "directory", "size": "0 Bytes", "bytes": 0},
        {"path": "data/run1/frames.tif", "type": "file", "size": "2.5 kB", "bytes": 2500},
    ]
    files_only = await user_client.get(
        "/files/data", params={"recursive": "true", "show_dirs": "false"}, headers=alice
    )
    assert [f["path"] for f in files_only.json()] == ["data/run1/frames.tif"]

    grant = (await user_client.get("/files/data/run1/frames.tif/url", headers=alice)).json()
    assert grant["method"] == "get"
    assert grant["url"].endswith("/files/data/run1/frames.tif/download")
    assert grant["headers"]["authorization"] == alice["Authorization"]
    body = await user_client.get("/files/data/run1/frames.tif/download", headers=alice)
    assert body.content == b"x" * 2500

    assert (await user_client.post("/files/data/run2/", headers=alice)).status_code == 201
    moved = await user_client.put("/files/data/run1", json={"path": "data/run2/old"}, headers=alice)
    assert moved.status_code == 200, moved.text
    assert (
        await user_client.get("/files/data/run2/old/frames.tif/download", headers=alice)
    ).status_code == 200
    for _ in range(2):  # idempotent
        assert (await user_client.delete("/files/data/run2", headers=alice)).status_code == 204
    assert (
        await user_client.get("/files/data/run2/old/frames.tif/download", headers=alice)
    ).status_code == 404


async def test_a_folder_downloads_as_a_zip_named_after_it(user_client: Client, user_auth) -> None:  # type: ignore[no-untyped-def]
    alice = user_auth("alice")
    await upload(user_client, alice, "data/test", "a.txt", b"A" * 100_000)
    await upload(user_client, alice, "data/test/sub", "b.txt", b"B")
    reply = await user_client.get("/files/data/test/download", headers=alice)
    assert reply.status_code == 200
    assert 'filename="test.zip"' in reply.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(reply.content))
    assert sorted(archive.namelist()) == ["a.txt", "sub/b.txt"]
    assert archive.read("a.txt") == b"A" * 100_000
    grant = (await user_client.get("/files/data/test/url", headers=alice)).json()
    assert grant["url"].endswith("/files/data/test/download")


async def test_upload_descriptions_point_at_this_api(user_client: Client, user_auth) -> None:  # type: ignore[no-untyped-def]
    alice = user_auth("alice")
    grant = (await user_client.post("/files/data/run9/url", headers=alice)).json()
    assert grant["method"] == "post"
    assert grant["url"].endswith("/files/data/run9/upload")
    assert grant["headers"]["authorization"] == alice["Authorization"]


@pytest.mark.parametrize(
    "path",
    [
        "/files/data/.%2e/.%2e/bob/data/secret.txt/download",
        "/files/data/%2e%2e/%2e%2e/bob/data/secret.txt/download",
        "/files/data/%2E%2E/%2E%2E/bob/data/secret.txt/url",
        "/files//etc/passwd/download",
        "/files/%2fetc%2fpasswd/download",
        "/files/data%2f..%2f..%2fbob/data",
        "/files/secrets/x/download",
    ],
)
async def test_paths_out_of_the_users_tree_are_403(
    user_client: Client, user_auth, path: str
) -> None:  # type: ignore[no-untyped-def]
    await upload(user_client, user_auth("bob"), "data", "secret.txt", b"bob's")
    reply = await user_client.get(path, headers=user_auth("alice"))
    assert reply.status_code == 403, (path, reply.status_code, reply.text)


async def test_writes_out_of_the_tree_are_403(user_client: Client, user_auth) -> None:  # type: ignore[no-untyped-def]
    alice = user_auth("alice")
    assert (
        await upload(user_client, alice, "data/%2e%2e/%2e%2e/bob/data", "x", b"x")
    ).status_code == 403
    assert (await upload(user_client, alice, "data", "../../bob/x", b"x")).status_code == 403
    assert (await upload(user_client, alice, "output/job", "x", b"x")).status_code == 403
    assert (
        await user_client.delete("/files/data/%2e%2e/%2e%2e/bob", headers=alice)
    ).status_code == 403
    moved = await user_client.put("/files/data/a", json={"path": "../bob/data/a"}, headers=alice)
    assert moved.status_code == 403


async def test_links_out_of_the_tree_are_not_followed(
    user_client: Client,
    user_auth,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    bob, alice = user_auth("bob"), user_auth("alice")
    await upload(user_client, bob, "data", "secret.txt", b"bob's")
    await upload(user_client, alice, "data", "mine.txt", b"mine")
    root = Path(settings.user_data_root_path)
    os.symlink(root / "bob/data", root / "alice/data/bobs")
    reply = await user_client.get("/files/data/bobs/secret.txt/download", headers=alice)
    assert reply.status_code == 403
    listed = await user_client.get("/files/data", params={"recursive": "true"}, headers=alice)
    assert [f["path"] for f in listed.json()] == ["data/mine.txt"]


async def test_other_users_and_workers_see_nothing(user_client: Client, user_auth) -> None:  # type: ignore[no-untyped-def]
    await upload(user_client, user_auth("bob"), "data", "secret.txt", b"bob's")
    reply = await user_client.get("/files/data/secret.txt/download", headers=user_auth("alice"))
    assert reply.status_code == 404
    worker = user_auth("gpu-1", "workers")
    assert (await user_client.get("/files", headers=worker)).status_code == 403
    assert (await user_client.get("/files")).status_code == 401
