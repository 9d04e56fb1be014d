"""File transfers on the local file store, through the HTTP API."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.settings import Settings
from tests.conftest import TokenFactory
from tests.e2e.test_worker_api import enqueue, pull

Client = AsyncTestClient[Litestar]


async def held_job(
    client: Client, internal: dict[str, str], auth: TokenFactory, settings: Settings
) -> tuple[int, dict[str, str], Path]:
    root = settings.user_data_root_path
    (root / "alice/in").mkdir(parents=True)
    (root / "alice/in/frames.tif").write_bytes(b"\x00frames" * 1000)
    (root / "alice/in/secret.txt").write_text("not yours")
    job_id = await enqueue(
        client,
        internal,
        files_down={"frames.tif": f"{root}/alice/in/frames.tif", "calib": "alice/in/none.mat"},
        user_job_id=5,
    )
    worker = auth("gpu1")
    await pull(client, worker)
    return job_id, worker, root


async def test_upload_url_then_multipart_upload(
    client: Client, internal: dict[str, str], auth: TokenFactory, settings: Settings
) -> None:
    job_id, worker, root = await held_job(client, internal, auth, settings)
    grant = await client.post(
        f"/jobs/{job_id}/files/url",
        params={"type": "output", "base_path": "fits"},
        headers=worker,
    )
    assert grant.status_code == 201, grant.text
    description = grant.json()
    assert description["method"] == "post"
    assert description["url"].startswith("http")
    upload_path = description["url"].split("://", 1)[1].split("/", 1)[1]
    response = await client.post(
        "/" + upload_path,
        files={"file": ("emitters.h5", b"h5" * 5000, "application/octet-stream")},
        headers=worker,
    )
    assert response.status_code == 201, response.text
    stored = root / "alice/jobs/5/output/fits/emitters.h5"
    assert stored.read_bytes() == b"h5" * 5000


async def test_upload_confinement(
    client: Client, internal: dict[str, str], auth: TokenFactory, settings: Settings
) -> None:
    job_id, worker, root = await held_job(client, internal, auth, settings)
    for base_path in ("../../../etc", "/etc", "a/../../log"):
        response = await client.post(
            f"/jobs/{job_id}/files/url",
            params={"type": "output", "base_path": base_path},
            headers=worker,
        )
        assert response.status_code == 403, base_path
    evil = await client.post(
        f"/jobs/{job_id}/files/upload",
        params={"type": "log"},
        files={"file": ("../../escape.txt", b"x", "text/plain")},
        headers=worker,
    )
    assert evil.status_code == 403
    assert not (root / "alice/jobs/escape.txt").exists()
    other = await client.post(
        f"/jobs/{job_id}/files/url", params={"type": "output"}, headers=auth("gpu2")
    )
    assert other.status_code == 404
    bad_kind = await client.post(
        f"/jobs/{job_id}/files/url", params={"type": "binaries"}, headers=worker
    )
    assert bad_kind.status_code == 400


async def test_download_of_a_held_jobs_input(
    client: Client, internal: dict[str, str], auth: TokenFactory, settings: Settings
) -> None:
    _, worker, root = await held_job(client, internal, auth, settings)
    file_id = f"{root}/alice/in/frames.tif"
    grant = await client.get(f"/files/{file_id}/url", headers=worker)
    assert grant.status_code == 200, grant.text
    url = grant.json()["url"]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    download = await client.get(path, headers=worker)
    assert download.status_code == 200
    assert download.content == b"\x00frames" * 1000
    relative = await client.get("/files/alice/in/frames.tif/download", headers=worker)
    assert relative.content == download.content


async def test_download_confinement(
    client: Client, internal: dict[str, str], auth: TokenFactory, settings: Settings
) -> None:
    _, worker, _ = await held_job(client, internal, auth, settings)
    dots = "alice/in/%2e%2e/%2e%2e/%2e%2e/etc/passwd"  # encoded, so no client normalises it
    for file_id in ("alice/in/secret.txt", dots, "/etc/passwd", "s3://bucket/alice/in/frames.tif"):
        response = await client.get(f"/files/{file_id}/url", headers=worker)
        assert response.status_code == 403, file_id
    missing = await client.get("/files/alice/in/none.mat/url", headers=worker)
    assert missing.status_code == 404
    stranger = await client.get("/files/alice/in/frames.tif/download", headers=auth("gpu2"))
    assert stranger.status_code == 403


async def test_an_upload_over_the_limit_is_413_and_leaves_nothing(
    env: dict[str, str], internal: dict[str, str], tmp_path: Path
) -> None:
    from adapters.auth.local import LocalIssuer
    from entrypoints.http.app import create_app
    from entrypoints.settings import load_settings

    settings = load_settings({**env, "MAX_UPLOAD_BYTES": "1000"})
    async with AsyncTestClient(create_app(settings, run_scheduler=False)) as client:
        token = LocalIssuer(settings.data_dir).mint("gpu1", ["workers"], 600)
        worker = {"Authorization": f"Bearer {token}"}
        job_id = await enqueue(client, internal, user_job_id=8)
        await pull(client, worker)
        response = await client.post(
            f"/jobs/{job_id}/files/upload",
            params={"type": "output"},
            files={"file": ("big.bin", b"x" * 5000, "application/octet-stream")},
            headers=worker,
        )
        assert response.status_code == 413
        folder = settings.user_data_root_path / "alice/jobs/8/output"
        assert not folder.exists() or list(folder.iterdir()) == []


async def test_downloads_carry_the_content_type_and_any_file_name(
    client: Client, internal: dict[str, str], auth: TokenFactory, settings: Settings
) -> None:
    root = settings.user_data_root_path
    names = {'résumé "v2"€.tif': "image/tiff", "log.txt": "text/plain", "blob": None}
    (root / "alice/in").mkdir(parents=True)
    for name in names:
        (root / "alice/in" / name).write_bytes(b"bytes of " + name.encode())
    inputs = {name: f"alice/in/{name}" for name in names}
    await enqueue(client, internal, files_down=inputs, user_job_id=6)
    worker = auth("gpu1")
    await pull(client, worker)
    for name, content_type in names.items():
        reply = await client.get(f"/files/alice/in/{quote(name)}/download", headers=worker)
        assert reply.status_code == 200, reply.text
        assert reply.content == b"bytes of " + name.encode()
        assert reply.headers["content-type"].split(";")[0] == (
            content_type or "application/octet-stream"
        )
        assert f"filename*=UTF-8''{quote(name, safe='')}" in reply.headers["content-disposition"]
