"""`jobcloud serve` with AUTH=1 and COGNITO_* pointed at the cognito-idp of a moto server
(AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER): accounts are Cognito users, tokens are Cognito's,
verified by both APIs with RS256 against the pool's JWKS fetched from moto over HTTP. Nothing
patched."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.contract.s3_support import REGION
from tests.e2e.test_server_process import BIN, free_port, mint, start, stop, wait_ready
from tests.e2e.user_support import job_body, write_catalogue

PASSWORD = "Correct-horse-battery-1"
API_KEY = "cognito-e2e-internal-key"


@dataclass(frozen=True)
class Pool:
    idp: Any
    id: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Servers:
    worker: str
    user: str
    data_dir: Path


@pytest.fixture
def pool(moto_endpoint: str) -> Pool:
    """A fresh user pool and an app client with a secret (so SECRET_HASH is checked too)."""
    idp = boto3.client(
        "cognito-idp",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    pool_id = idp.create_user_pool(PoolName=f"jobcloud-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="jobcloud",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    return Pool(idp, pool_id, client["ClientId"], client["ClientSecret"])


def cognito_env(moto_endpoint: str, pool: Pool, tmp_path: Path) -> dict[str, str]:
    inherited = ("QUEUE_", "FILESYSTEM", "AWS_", "COGNITO_", "JWT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    return env | {
        "AUTH": "1",
        "INTERNAL_API_KEY_SECRET": API_KEY,
        "APPLICATION_CONFIG_FILE": str(write_catalogue(tmp_path)),
        "COGNITO_USER_POOL_ID": pool.id,
        "COGNITO_REGION": REGION,
        "COGNITO_CLIENT_ID": pool.client_id,
        "COGNITO_SECRET": pool.client_secret,
        # boto3's own name for cognito-idp's endpoint; the JWKS is fetched there too
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


@pytest.fixture
def servers(moto_endpoint: str, pool: Pool, tmp_path: Path) -> Iterator[Servers]:
    data_dir = tmp_path / "data"
    port, user_port = free_port(), free_port()
    command = [str(BIN / "jobcloud"), "serve", "--port", str(port), "--user-port", str(user_port)]
    process = start(
        [*command, "--data-dir", str(data_dir)], cognito_env(moto_endpoint, pool, tmp_path)
    )
    worker_base, user_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{user_port}"
    try:
        wait_ready(worker_base, process)
        wait_ready(user_base, process)
        yield Servers(worker_base, user_base, data_dir)
    finally:
        stop(process)


def sign_up(user: httpx.Client, username: str, groups: str, **kw: Any) -> httpx.Response:
    form = {"username": username, "password": PASSWORD, "groups": groups}
    return user.post("/user", data=form, **kw)


def id_token(user: httpx.Client, username: str) -> str:
    reply = user.post("/token", data={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["id_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT, unverified (the servers verify; the test looks)."""
    header, payload, _ = token.split(".")
    return tuple(  # type: ignore[return-value]
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        for part in (header, payload)
    )


def test_accounts_and_tokens_are_cognitos(servers: Servers, pool: Pool) -> None:
    admin = {"x-api-key": API_KEY}
    with httpx.Client(base_url=servers.user, timeout=20) as user:
        created = sign_up(user, "alice", "users", headers=admin)
        assert created.status_code == 201, created.text
        assert created.json() == {"username": "alice", "groups": ["users"]}
        assert sign_up(user, "alice", "users", headers=admin).status_code == 409
        # a Cognito user now, in a Cognito group
        assert pool.idp.admin_get_user(UserPoolId=pool.id, Username="alice")["Enabled"]
        groups = pool.idp.admin_list_groups_for_user(UserPoolId=pool.id, Username="alice")
        assert [g["GroupName"] for g in groups["Groups"]] == ["users"]

        token = id_token(user, "alice")
        header, claims = claims_of(token)
        assert header["alg"] == "RS256"
        assert claims["iss"] == f"https://cognito-idp.{REGION}.amazonaws.com/{pool.id}"
        assert (claims["aud"], claims["token_use"]) == (pool.client_id, "id")
        assert claims["cognito:groups"] == ["users"]
        me = user.get("/user", headers=bearer(token))
        assert me.status_code == 200, me.text
        assert (me.json()["username"], me.json()["groups"]) == ("alice", ["users"])

        wrong = user.post("/token", data={"username": "alice", "password": PASSWORD + "x"})
        assert wrong.status_code == 401
        nobody = user.post("/token", data={"username": "zed", "password": PASSWORD})
        assert nobody.status_code == 401

        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert user.get("/user", headers=bearer(tampered)).status_code == 401
        local = mint(servers.data_dir, "alice")  # the local issuer's key is not the pool's
        assert user.get("/user", headers=bearer(local)).status_code == 401

        login = user.post("/login", data={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert "HttpOnly" in login.headers["set-cookie"]
        assert user.get("/user").json()["username"] == "alice"  # by the cookie
        user.cookies.clear()
        assert user.get("/user").status_code == 401


def test_only_an_admin_creates_workers_and_their_tokens_serve_the_worker_api(
    servers: Servers, pool: Pool
) -> None:
    with httpx.Client(base_url=servers.user, timeout=20) as user:
        assert sign_up(user, "bob", "").status_code == 201  # anyone may sign up as a user
        bob = bearer(id_token(user, "bob"))
        assert sign_up(user, "sneaky", "workers").status_code == 403
        assert sign_up(user, "sneaky", "workers", headers=bob).status_code == 403
        assert sign_up(user, "sneaky", "admin", headers=bob).status_code == 403
        made = sign_up(user, "gpu-box-1", "workers,cloud", headers={"x-api-key": API_KEY})
        assert made.status_code == 201, made.text
        assert made.json()["groups"] == ["cloud", "workers"]
        gpu = bearer(id_token(user, "gpu-box-1"))

        user.post("/files/config/exp1/upload", headers=bob, files={"file": ("p.yaml", b"lr: 1")})
        submitted = user.post("/jobs", headers=bob, json=job_body("cognito-run"))
        assert submitted.status_code == 201, submitted.text

    offer = {"memory": 64000, "cpu_cores": 8, "gpu_mem": 0, "limit": 1, "older_than": 0}
    with httpx.Client(base_url=servers.worker, timeout=20) as worker:
        assert worker.get("/jobs", params=offer, headers=bob).status_code == 403  # not a worker
        mine = worker.get("/jobs", params=offer, headers=gpu)
        assert mine.status_code == 200, mine.text
        ((queue_id, spec),) = mine.json().items()
        assert spec["meta"]["job_id"] == submitted.json()["id"]
        moved = worker.put(f"/jobs/{queue_id}/status", params={"status": "running"}, headers=gpu)
        assert moved.status_code == 204, moved.text
        status = worker.get(f"/jobs/{queue_id}/status", headers=gpu)
        assert status.json() == "running"
        local = bearer(mint(servers.data_dir, "gpu-box-1"))
        assert worker.get("/jobs", params=offer, headers=local).status_code == 401
    with httpx.Client(base_url=servers.user, timeout=20, headers=bob) as user:
        job = user.get(f"/jobs/{submitted.json()['id']}").json()
        assert job["status"] in {"pulled", "running"}  # forwarded in-process by the scheduler


def cognito_emails(pool: Pool, username: str) -> list[str]:
    user = pool.idp.admin_get_user(UserPoolId=pool.id, Username=username)
    return [a["Value"] for a in user["UserAttributes"] if a["Name"] == "email"]


def test_put_user_keeps_cognitos_email_in_step_and_a_refusal_changes_nothing(
    servers: Servers, pool: Pool
) -> None:
    form = {"username": "erin", "password": PASSWORD, "email": "erin@lab.example.org"}
    with httpx.Client(base_url=servers.user, timeout=20) as user:
        assert user.post("/user", data=form).status_code == 201
        erin = bearer(id_token(user, "erin"))
        moved = user.put("/user", headers=erin, json={"email": "erin@home.example.org"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["email"] == "erin@home.example.org"
        assert cognito_emails(pool, "erin") == ["erin@home.example.org"]

        # Cognito refuses (the pool is gone; erin's token is still good): 503, nothing changed
        pool.idp.delete_user_pool(UserPoolId=pool.id)
        hook = "https://hooks.example.org/erin"
        refused = user.put(
            "/user", headers=erin, json={"email": "erin@new.example.org", "webhook_url": hook}
        )
        assert refused.status_code == 503, refused.text
        after = user.get("/user", headers=erin).json()
        assert (after["email"], after["webhook_url"]) == ("erin@home.example.org", None)
        kept = user.put("/user", headers=erin, json={"webhook_url": hook})  # no e-mail named
        assert kept.status_code == 200, kept.text
        assert kept.json()["webhook_url"] == hook
