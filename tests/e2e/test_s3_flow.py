"""The worker flow with FILESYSTEM=s3: pre-signed transfers against a real S3 server (moto)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.auth.local import LocalIssuer
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.conftest import API_KEY
from tests.contract.s3_support import REGION
from tests.e2e.jobs import submitted

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def s3_app(
    tmp_path: Path, aws_env: str, bucket: str
) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    settings = load_settings(
        {
            "JOBCLOUD_DATA_DIR": str(tmp_path / "data"),
            "INTERNAL_API_KEY_SECRET": API_KEY,
            "FILESYSTEM": "s3",
            "S3_BUCKET": bucket,
            "S3_REGION": REGION,
            "S3_ENDPOINT_URL": aws_env,
            "UPLOAD_URL_TTL": "120",
        }
    )
    token = LocalIssuer(settings.data_dir).mint("gpu1", ["workers"], 600)
    async with AsyncTestClient(create_app(settings, run_scheduler=False)) as client:
        yield client, {"Authorization": f"Bearer {token}"}


async def test_worker_flow_on_s3(
    s3_app: tuple[Client, dict[str, str]], s3_client: Any, bucket: str
) -> None:
    client, worker = s3_app
    s3_client.put_object(Bucket=bucket, Key="alice/in/frames.tif", Body=b"frames" * 1000)
    s3_client.put_object(Bucket=bucket, Key="bob/in/private.tif", Body=b"bob's")
    body = submitted(
        files_down={"frames.tif": f"s3://{bucket}/alice/in/frames.tif"},
        root=f"s3://{bucket}",
        user_job_id=31,
    )
    created = await client.post("/_jobs", json=body, headers={"x-api-key": API_KEY})
    job_id = created.json()["id"]
    assert list((await client.get("/jobs", headers=worker)).json()) == [str(job_id)]

    grant = await client.get(f"/files/s3://{bucket}/alice/in/frames.tif/url", headers=worker)
    assert grant.status_code == 200, grant.text
    async with httpx.AsyncClient() as http:
        assert (await http.get(grant.json()["url"])).content == b"frames" * 1000

        for status in ("preprocessing", "running", "postprocessing"):
            reply = await client.put(
                f"/jobs/{job_id}/status", params={"status": status}, headers=worker
            )
            assert reply.status_code == 204
        upload = await client.post(
            f"/jobs/{job_id}/files/url",
            params={"type": "output", "base_path": "fits"},
            headers=worker,
        )
        assert upload.status_code == 201, upload.text
        form = upload.json()
        assert form["method"] == "post"
        for name in ("a.csv", "b.csv"):  # one grant, several files (${filename})
            sent = await http.post(
                form["url"], data=form["data"], files={"file": (name, name.encode())}
            )
            assert sent.status_code in (200, 201, 204), sent.text
    reply = await client.put(
        f"/jobs/{job_id}/status", params={"status": "finished"}, headers=worker
    )
    assert reply.status_code == 204
    stored = s3_client.get_object(Bucket=bucket, Key="alice/jobs/31/output/fits/b.csv")
    assert stored["Body"].read() == b"b.csv"


async def test_s3_refusals(
    s3_app: tuple[Client, dict[str, str]], s3_client: Any, bucket: str
) -> None:
    client, worker = s3_app
    s3_client.put_object(Bucket=bucket, Key="alice/in/frames.tif", Body=b"x")
    s3_client.put_object(Bucket=bucket, Key="bob/in/private.tif", Body=b"y")
    body = submitted(
        files_down={
            "f": f"s3://{bucket}/alice/in/frames.tif",
            "g": f"s3://{bucket}/alice/in/gone.tif",
        },
        root=f"s3://{bucket}",
    )
    await client.post("/_jobs", json=body, headers={"x-api-key": API_KEY})
    [job_id] = (await client.get("/jobs", headers=worker)).json()
    for file_id in (f"s3://{bucket}/bob/in/private.tif", "s3://other-bucket/alice/in/frames.tif"):
        assert (await client.get(f"/files/{file_id}/url", headers=worker)).status_code == 403
    gone = await client.get(f"/files/s3://{bucket}/alice/in/gone.tif/url", headers=worker)
    assert gone.status_code == 404
    direct = await client.get(f"/files/s3://{bucket}/alice/in/frames.tif/download", headers=worker)
    assert direct.status_code == 400
    assert "/url" in direct.json()["detail"]
    upload = await client.post(
        f"/jobs/{job_id}/files/upload",
        params={"type": "output"},
        headers=worker,
        files={"file": ("x", b"x")},
    )
    assert upload.status_code == 400


async def test_s3_descriptions_sent_as_given_like_decode_s_fetcher(
    s3_app: tuple[Client, dict[str, str]], s3_client: Any, bucket: str
) -> None:
    """DECODE's fetcher sends a description as given (`requests.request(**d)`), adding only
    the multipart `file` of an upload: S3's pre-signed requests need nothing more."""
    client, worker = s3_app
    s3_client.put_object(Bucket=bucket, Key="alice/in/frames.tif", Body=b"frames" * 500)
    input_id = f"s3://{bucket}/alice/in/frames.tif"
    body = submitted(files_down={"f": input_id}, root=f"s3://{bucket}", user_job_id=32)
    await client.post("/_jobs", json=body, headers={"x-api-key": API_KEY})
    [job_id] = (await client.get("/jobs", headers=worker)).json()

    download = (await client.get(f"/files/{input_id}/url", headers=worker)).json()
    assert (download["method"], download["headers"], download["data"]) == ("get", {}, {})
    got = await asyncio.to_thread(lambda: httpx.request(**download))
    assert (got.status_code, got.content) == (200, b"frames" * 500)

    for path_api, content in (("fits/emitters.h5", b"h5"), ("run.log", b"log")):
        params = {"base_path": os.path.dirname(path_api), "type": "output"}
        upload = await client.post(f"/jobs/{job_id}/files/url", params=params, headers=worker)
        assert upload.status_code == 201, upload.text
        description = upload.json()
        assert description["headers"] == {}
        files = {"file": (os.path.basename(path_api), content)}
        sent = await asyncio.to_thread(lambda d=description, f=files: httpx.request(**d, files=f))
        assert sent.status_code in (200, 201, 204), sent.text
        key = f"alice/jobs/32/output/{path_api}"
        assert s3_client.get_object(Bucket=bucket, Key=key)["Body"].read() == content
