"""The Accounts port: the local user table (SQLite, PostgreSQL) and Cognito (the cognito-idp
of a moto server over HTTP). Tokens are checked by the verifier of each deployment."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.auth.cognito_accounts import CognitoAccounts, make_cognito_client
from adapters.auth.local import LocalIssuer
from adapters.auth.local_accounts import LocalAccounts
from adapters.auth.verifier import cognito_verifier
from domain.accounts.model import AccountExists, Accounts
from domain.errors import NotAuthenticated, Unavailable
from domain.ports import TokenVerifier
from tests.contract.s3_support import REGION
from tests.contract.sql_support import sql_engine

PASSWORD = "Correct-horse-battery-1"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "cognito"])
async def accounts(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Accounts, TokenVerifier]]:
    if request.param == "cognito":
        endpoint = request.getfixturevalue("aws_env")
        client = make_cognito_client(REGION, endpoint)
        pool = client.create_user_pool(PoolName=f"p-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
        app = client.create_user_pool_client(
            UserPoolId=pool, ClientName="jobcloud", ExplicitAuthFlows=["USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        async with httpx.AsyncClient() as http:
            jwks = f"{endpoint}/{pool}/.well-known/jwks.json"
            yield (
                CognitoAccounts(client, pool, app),
                cognito_verifier(REGION, pool, app, http, jwks_url=jwks),
            )
        return
    issuer = LocalIssuer(tmp_path / "data")
    async with sql_engine(request.param, tmp_path) as engine:
        yield LocalAccounts(engine, issuer, 600), issuer.verifier()


async def test_created_accounts_log_in_with_their_groups(
    accounts: tuple[Accounts, TokenVerifier],
) -> None:
    store, verifier = accounts
    await store.create("alice", PASSWORD, frozenset({"users"}))
    await store.create("gpu-1", PASSWORD, frozenset({"workers", "cloud"}))
    issued = await store.login("alice", PASSWORD)
    assert issued.expires_in > 0
    principal = await verifier.verify(issued.token)
    assert principal.username == "alice"
    assert principal.groups == {"users"}
    worker = await verifier.verify((await store.login("gpu-1", PASSWORD)).token)
    assert worker.groups == {"workers", "cloud"}


async def test_names_are_unique_and_wrong_passwords_refused(
    accounts: tuple[Accounts, TokenVerifier],
) -> None:
    store, _ = accounts
    await store.create("alice", PASSWORD, frozenset({"users"}))
    with pytest.raises(AccountExists):
        await store.create("alice", PASSWORD + "x", frozenset({"users"}))
    with pytest.raises(NotAuthenticated):
        await store.login("alice", PASSWORD + "x")
    with pytest.raises(NotAuthenticated):
        await store.login("nobody", PASSWORD)
    assert (await store.login("alice", PASSWORD)).token


async def test_an_account_made_with_an_email_logs_in(
    accounts: tuple[Accounts, TokenVerifier],
) -> None:
    store, verifier = accounts
    await store.create("carol", PASSWORD, frozenset({"users"}), "carol@lab.example.org")
    principal = await verifier.verify((await store.login("carol", PASSWORD)).token)
    assert principal.username == "carol"


async def test_setting_an_email_leaves_the_account_working(
    accounts: tuple[Accounts, TokenVerifier],
) -> None:
    """Cognito keeps the address (below); the local user table keeps none: nothing to do."""
    store, verifier = accounts
    await store.create("erin", PASSWORD, frozenset({"users"}), "erin@lab.example.org")
    await store.set_email("erin", "erin@home.example.org")
    await store.set_email("erin", None)
    principal = await verifier.verify((await store.login("erin", PASSWORD)).token)
    assert (principal.username, principal.groups) == ("erin", {"users"})


def emails_of(client: Any, pool: str, username: str) -> list[str]:
    user = client.admin_get_user(UserPoolId=pool, Username=username)
    return [a["Value"] for a in user["UserAttributes"] if a["Name"] == "email"]


def cognito_pool(endpoint: str) -> tuple[Any, str, CognitoAccounts]:
    client = make_cognito_client(REGION, endpoint)
    pool = client.create_user_pool(PoolName=f"p-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="jobcloud")
    return client, pool, CognitoAccounts(client, pool, app["UserPoolClient"]["ClientId"])


async def test_cognito_keeps_the_email_attribute_in_step(aws_env: str) -> None:
    client, pool, store = cognito_pool(aws_env)
    await store.create("carol", PASSWORD, frozenset({"users"}), "carol@lab.example.org")
    await store.set_email("carol", "carol@home.example.org")
    assert emails_of(client, pool, "carol") == ["carol@home.example.org"]
    await store.create("dave", PASSWORD, frozenset({"users"}))
    await store.set_email("dave", "dave@lab.example.org")  # none before: added
    assert emails_of(client, pool, "dave") == ["dave@lab.example.org"]
    await store.set_email("carol", None)
    assert emails_of(client, pool, "carol") == []
    with pytest.raises(NotAuthenticated, match="no user 'zed'"):
        await store.set_email("zed", "zed@lab.example.org")


async def test_cognito_down_is_unavailable(aws_env: str) -> None:
    client, pool, _ = cognito_pool(aws_env)
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="other")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    store = CognitoAccounts(
        make_cognito_client(REGION, dead), pool, app["UserPoolClient"]["ClientId"]
    )
    with pytest.raises(Unavailable, match="cognito unreachable"):
        await store.set_email("carol", "carol@home.example.org")
    client.delete_user_pool(UserPoolId=pool)
    gone = CognitoAccounts(client, pool, app["UserPoolClient"]["ClientId"])
    with pytest.raises(Unavailable, match="cognito refused"):
        await gone.set_email("carol", "carol@home.example.org")


async def test_cognito_keeps_the_email_as_the_users_attribute(aws_env: str) -> None:
    client = make_cognito_client(REGION, aws_env)
    pool = client.create_user_pool(PoolName=f"p-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="jobcloud")
    store = CognitoAccounts(client, pool, app["UserPoolClient"]["ClientId"])
    await store.create("carol", PASSWORD, frozenset({"users"}), "carol@lab.example.org")
    await store.create("dave", PASSWORD, frozenset({"users"}))
    for name, expected in (("carol", ["carol@lab.example.org"]), ("dave", [])):
        user = client.admin_get_user(UserPoolId=pool, Username=name)
        emails = [a["Value"] for a in user["UserAttributes"] if a["Name"] == "email"]
        assert emails == expected
