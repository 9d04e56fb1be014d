"""Which accounts PUT /user keeps in step: Cognito's with AUTH=1 (the user API manages the
pool's accounts), none with AUTH=0 (the pool's accounts are someone else's: the profile
only). A real cognito-idp (moto's server) without the user: a call to it would fail."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.cognito_accounts import make_cognito_client
from adapters.sql.migrate import upgrade
from domain.accounts.profile import ProfileUpdate, UpdateProfile
from domain.errors import NotAuthenticated
from domain.workers import Principal
from entrypoints.bootstrap import prepare
from entrypoints.http.ioc import make_http_container
from entrypoints.http.user.ioc import UserProvider, user_use_cases
from entrypoints.http.user.settings import load_user_settings
from entrypoints.settings import load_settings
from tests.contract.s3_support import REGION

ALICE = Principal("alice", frozenset({"users"}))


@pytest.mark.parametrize("auth", ["0", "1"])
async def test_put_user_writes_to_cognito_only_with_auth(
    auth: str, aws_env: str, tmp_path: Path
) -> None:
    client = make_cognito_client(REGION, aws_env)
    pool = client.create_user_pool(PoolName=f"p-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="jobcloud")
    env = {
        "JOBCLOUD_DATA_DIR": str(tmp_path),
        "COGNITO_USER_POOL_ID": pool,
        "COGNITO_REGION": REGION,
        "COGNITO_CLIENT_ID": app["UserPoolClient"]["ClientId"],
        "AWS_ENDPOINT_URL": aws_env,
        "AUTH": auth,
    }
    settings = prepare(load_settings(env))
    container = make_http_container(
        settings, UserProvider(load_user_settings(env)), user_use_cases()
    )
    try:
        await upgrade(await container.get(AsyncEngine))
        update = await container.get(UpdateProfile)
        if auth == "1":  # alice is not in the pool: Cognito says so, nothing is saved
            with pytest.raises(NotAuthenticated):
                await update(ALICE, ProfileUpdate(email="alice@lab.example.org"))
        else:
            made = await update(ALICE, ProfileUpdate(email="alice@lab.example.org"))
            assert made.email == "alice@lab.example.org"
    finally:
        await container.close()
