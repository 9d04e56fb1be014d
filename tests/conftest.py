"""Shared fixtures: settings for an embedded deployment in a temp folder, the app, tokens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from moto.server import ThreadedMotoServer

from adapters.auth.local import LocalIssuer
from adapters.files.s3 import make_s3_client
from entrypoints.http.app import create_app
from entrypoints.settings import Settings, load_settings
from tests.contract.s3_support import REGION

API_KEY = "test-internal-key"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of an embedded deployment under tmp_path (tests may add to it)."""
    return {
        "JOBCLOUD_DATA_DIR": str(tmp_path / "data"),
        "INTERNAL_API_KEY_SECRET": API_KEY,
        "JOBCLOUD_SCHEDULER": "0",
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(env)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings, run_scheduler=False)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as client:
        yield client


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth(settings: Settings) -> TokenFactory:
    """auth("gpu1", "workers", "cloud") -> headers with a bearer token of the local issuer."""
    issuer = LocalIssuer(settings.data_dir)

    def headers(username: str = "worker-1", *groups: str) -> dict[str, str]:
        token = issuer.mint(username, list(groups or ("workers",)), 3600)
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def internal() -> dict[str, str]:
    return {"x-api-key": API_KEY}


# A real S3-speaking HTTP server: moto's ThreadedMotoServer on 127.0.0.1, a random port.


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Credentials and endpoints so every boto3 client of the test talks to moto."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return moto_endpoint


@pytest.fixture
def s3_client(aws_env: str) -> Any:
    return make_s3_client(REGION, aws_env)


@pytest.fixture
def bucket(s3_client: Any) -> str:
    name = f"jobcloud-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name
