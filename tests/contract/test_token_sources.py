"""Where the worker agent's token comes from: a file re-read when it changes, the local
issuer of a data folder, or a Cognito USER_PASSWORD_AUTH login (moto's cognito-idp over
HTTP, the pool named by the real app's GET /access_info)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from adapters.auth.local import LocalIssuer
from adapters.http import tokens as token_module
from adapters.http.tokens import CognitoToken, FileToken, LocalIssuerToken, StaticToken
from domain.runs.ports import ApiUnavailable
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.contract.s3_support import REGION


async def test_a_given_token_is_used_as_is() -> None:
    assert await StaticToken(" abc \n").token() == "abc"


async def test_a_token_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    source = FileToken(path)
    assert await source.token() == "first"
    path.write_text("second, longer\n")
    assert await source.token() == "second, longer"


async def test_minted_tokens_verify_as_a_worker_of_the_data_folder(tmp_path: Path) -> None:
    source = LocalIssuerToken(tmp_path, "lab-box-3")
    token = await source.token()
    assert await source.token() == token  # cached until renewal
    principal = await LocalIssuer(tmp_path).verifier().verify(token)
    assert principal.username == "lab-box-3"
    assert principal.require_worker() == "lab-box-3"
    source.invalidate()
    assert await source.token() != token


@pytest.fixture
def cognito_user(aws_env: str) -> dict[str, str]:
    idp = boto3.client("cognito-idp", region_name=REGION, endpoint_url=aws_env)
    pool = idp.create_user_pool(PoolName=f"workers-{time.monotonic_ns()}")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="fetcher", ExplicitAuthFlows=["USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="gpu-box")
    idp.admin_set_user_password(
        UserPoolId=pool, Username="gpu-box", Password="Secret-pass-1", Permanent=True
    )
    return {"pool": pool, "client": client}


@pytest.fixture
async def api(tmp_path: Path, cognito_user: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        {
            "JOBCLOUD_DATA_DIR": str(tmp_path / "data"),
            "JOBCLOUD_SCHEDULER": "0",
            "COGNITO_USER_POOL_ID": cognito_user["pool"],
            "COGNITO_CLIENT_ID": cognito_user["client"],
            "COGNITO_REGION": REGION,
        }
    )
    app = create_app(settings, run_scheduler=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


async def test_cognito_login_reads_the_pool_from_access_info_and_renews(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = CognitoToken("http://api", "gpu-box", "Secret-pass-1", http=api)
    token = await source.token()
    claims = _claims(token)
    assert claims["cognito:username"] == "gpu-box"
    assert claims["token_use"] == "id"

    logins = []
    real = source._client.initiate_auth

    def counted(**kwargs: Any) -> Any:
        logins.append(kwargs["AuthParameters"]["USERNAME"])
        return real(**kwargs)

    source._client.initiate_auth = counted
    assert await source.token() == token
    assert logins == []
    later = time.monotonic() + 3600 - 60  # within min_validity of the expiry
    monkeypatch.setattr(token_module.time, "monotonic", lambda: later)
    await source.token()
    assert logins == ["gpu-box"]


async def test_a_refused_login_is_an_error_naming_the_user(api: httpx.AsyncClient) -> None:
    source = CognitoToken("http://api", "gpu-box", "wrong", http=api)
    with pytest.raises(ApiUnavailable, match="Cognito login of 'gpu-box'"):
        await source.token()


def _claims(token: str) -> dict[str, Any]:
    import base64
    import json

    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
