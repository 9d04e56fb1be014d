"""The user API with FILESYSTEM=s3 (a moto server over HTTP): uploads through the API,
pre-signed transfers really sent, a folder zipped from S3, and a job's inputs as file ids."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.auth.local import LocalIssuer
from entrypoints.http.app import create_app
from entrypoints.http.user.app import create_user_app
from entrypoints.http.user.settings import UserSettings
from entrypoints.settings import load_settings
from tests.conftest import API_KEY
from tests.contract.s3_support import REGION
from tests.e2e.user_support import job_body, write_catalogue

Client = AsyncTestClient[Litestar]
UPLOAD_LIMIT = 9 * 1024 * 1024  # past one 8 MiB part: the refusal comes mid-upload


@pytest.fixture
async def s3_apps(
    tmp_path: Path, aws_env: str, bucket: str
) -> AsyncIterator[tuple[Client, Client, dict[str, str], dict[str, str]]]:
    settings = load_settings(
        {
            "JOBCLOUD_DATA_DIR": str(tmp_path / "data"),
            "INTERNAL_API_KEY_SECRET": API_KEY,
            "JOBCLOUD_SCHEDULER": "0",
            "FILESYSTEM": "s3",
            "S3_BUCKET": bucket,
            "S3_REGION": REGION,
            "S3_ENDPOINT_URL": aws_env,
            "MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
        }
    )
    user_settings = UserSettings(application_config_file=str(write_catalogue(tmp_path)))
    issuer = LocalIssuer(settings.data_dir)
    alice = {"Authorization": f"Bearer {issuer.mint('alice', ['users'], 600)}"}
    worker = {"Authorization": f"Bearer {issuer.mint('gpu-1', ['workers'], 600)}"}
    async with (
        AsyncTestClient(create_user_app(settings, user_settings)) as user,
        AsyncTestClient(create_app(settings, run_scheduler=False)) as workers,
    ):
        yield user, workers, alice, worker


async def test_user_files_and_jobs_on_s3(
    s3_apps: tuple[Client, Client, dict[str, str], dict[str, str]], s3_client: Any, bucket: str
) -> None:
    user, workers, alice, worker = s3_apps
    reply = await user.post(
        "/files/config/exp1/upload", files={"file": ("param.yaml", b"lr: 1")}, headers=alice
    )
    assert reply.status_code == 201, reply.text
    assert (
        s3_client.get_object(Bucket=bucket, Key="alice/config/exp1/param.yaml")["Body"].read()
        == b"lr: 1"
    )
    grant = (await user.post("/files/data/run1/url", headers=alice)).json()
    async with httpx.AsyncClient() as http:
        sent = await http.post(grant["url"], data=grant["data"], files={"file": ("a.tif", b"A")})
        assert sent.status_code in (200, 204), sent.text
        listed = await user.get("/files/data", params={"recursive": "true"}, headers=alice)
        assert [f["path"] for f in listed.json()] == ["data/run1/", "data/run1/a.tif"]
        grant = (await user.get("/files/data/run1/a.tif/url", headers=alice)).json()
        assert (await http.get(grant["url"])).content == b"A"
    archive = await user.get("/files/config/exp1/download", headers=alice)
    assert zipfile.ZipFile(io.BytesIO(archive.content)).read("param.yaml") == b"lr: 1"
    escape = await user.get("/files/data/%2e%2e/%2e%2e/bob/data/download", headers=alice)
    assert escape.status_code == 403

    created = await user.post("/jobs", json=job_body(data=["run1"]), headers=alice)
    assert created.status_code == 201, created.text
    pulled = (
        await workers.get("/jobs", params={"memory": 64000, "cpu_cores": 8}, headers=worker)
    ).json()
    (spec,) = pulled.values()
    assert spec["handler"]["files_down"] == {
        "config/param.yaml": "alice/config/exp1/param.yaml",
        "data/a.tif": "alice/data/run1/a.tif",
    }
    grant = (await workers.get("/files/alice/data/run1/a.tif/url", headers=worker)).json()
    async with httpx.AsyncClient() as http:
        assert (await http.get(grant["url"])).content == b"A"


async def test_an_upload_past_the_limit_is_413_and_leaves_nothing(
    s3_apps: tuple[Client, Client, dict[str, str], dict[str, str]], s3_client: Any, bucket: str
) -> None:
    user, _, alice, _ = s3_apps
    big = b"x" * (UPLOAD_LIMIT + 1)
    reply = await user.post("/files/data/run1/upload", files={"file": ("big", big)}, headers=alice)
    assert reply.status_code == 413, reply.text
    assert str(UPLOAD_LIMIT) in reply.json()["detail"]
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix="alice/").get("KeyCount") == 0
    exact = await user.post(
        "/files/data/run1/upload", files={"file": ("fits", big[:-1])}, headers=alice
    )
    assert exact.status_code == 201, exact.text
    assert exact.json()["bytes"] == UPLOAD_LIMIT
