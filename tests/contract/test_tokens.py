"""Contract of the TokenVerifier port: every verifier kind, real RS256 keys, JWKS over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer

from adapters.auth.keyfile import KeyFileError
from adapters.auth.local import LocalIssuer
from adapters.auth.verifier import JwksTokenVerifier, cognito_verifier
from domain.errors import NotAuthenticated, Unavailable
from domain.workers import Principal
from tests.contract.jwks_support import (
    DROP,
    JwksServer,
    Kind,
    ManualClock,
    cognito_pool,
    hs256_with_public_key,
    identity,
    now,
    remote,
    rsa_key,
    sign,
    tamper,
    token_of,
    unsigned,
)

ISSUER, AUDIENCE, CLIENT = "https://idp.example/realm", "jobcloud-api", "app-client-1"
POOL, REGION = "eu-west-1_Pool1", "eu-west-1"
COGNITO_ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"
PRIVATE_PARTS = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def jwks() -> Any:
    with JwksServer(rsa_key("k1")) as server:
        yield server


@pytest.fixture(params=["oidc", "cognito", "local"])
def kind(request: Any, tmp_path: Path, http: httpx.AsyncClient) -> Any:
    groups = {"cognito:groups": ["workers", "cloud"]}
    if request.param == "local":
        issuer = LocalIssuer(tmp_path)
        base = identity(iss=issuer.issuer, aud=issuer.audience, **groups)
        yield Kind(issuer.verifier(), issuer.signing_key(), base)
        return
    with JwksServer(rsa_key("k1")) as server:
        if request.param == "oidc":
            verifier = JwksTokenVerifier(
                http, jwks_url=server.url, issuer=ISSUER, audience=AUDIENCE
            )
            base = identity(iss=ISSUER, aud=AUDIENCE, **groups)
        else:
            verifier = cognito_verifier(REGION, POOL, CLIENT, http, jwks_url=server.url)
            base = identity(iss=COGNITO_ISSUER, aud=CLIENT, token_use="id", **groups)
        yield Kind(verifier, rsa_key("k1"), base)


async def test_a_valid_token_gives_the_principal(kind: Kind) -> None:
    principal = await kind.verify(kind.token())
    assert principal == Principal("gpu-box-1", frozenset({"workers", "cloud"}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exp": now() - 120}, "expired"),
        ({"exp": DROP}, "exp"),
        ({"exp": "tomorrow"}, "exp"),
        ({"nbf": now() + 3600}, "not yet valid"),
        ({"iat": now() + 3600}, "future"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"iss": DROP}, "iss"),
        ({"aud": "someone-else", "client_id": "someone-else"}, "aud|client"),
        ({"cognito:username": DROP, "sub": DROP}, "username"),
        ({"cognito:username": 42, "sub": ""}, "username"),
        ({"cognito:groups": {"workers": True}}, "groups"),
    ],
)
async def test_bad_claims_are_refused(kind: Kind, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(NotAuthenticated, match=message):
        await kind.verify(kind.token(**changes))


async def test_username_falls_back_to_username_then_sub(kind: Kind) -> None:
    token = kind.token(**{"cognito:username": DROP, "username": "box-2"})
    assert (await kind.verify(token)).username == "box-2"
    token = kind.token(**{"cognito:username": DROP, "sub": "box-3"})
    assert (await kind.verify(token)).username == "box-3"
    assert (await kind.verify(kind.token(**{"cognito:groups": DROP}))).groups == frozenset()


@pytest.mark.parametrize(
    ("forge", "message"),
    [
        pytest.param(lambda kind: "", "missing", id="empty"),
        pytest.param(lambda kind: "not-a-jwt", "malformed", id="garbage"),
        pytest.param(lambda kind: "a.b.c", "malformed", id="three-garbage-parts"),
        pytest.param(lambda kind: kind.token()[:-4], "signature", id="truncated-signature"),
        pytest.param(
            lambda kind: tamper(kind.token(), **{"cognito:username": "x"}), "signature", id="tamper"
        ),
        pytest.param(
            lambda kind: sign(kind.claims(), rsa_key("other"), kid=kind.key.kid),
            "signature",
            id="other-key-same-kid",
        ),
        pytest.param(lambda kind: unsigned(kind.claims(), kind.key.kid), "algorithm", id="none"),
        pytest.param(
            lambda kind: hs256_with_public_key(kind.claims(), kind.key), "algorithm", id="hs256"
        ),
        pytest.param(
            lambda kind: sign(kind.claims(), rsa_key("stranger")), "unknown key", id="unknown-kid"
        ),
    ],
)
async def test_forged_and_broken_tokens_are_refused(
    kind: Kind, forge: Callable[[Kind], str], message: str
) -> None:
    with pytest.raises(NotAuthenticated, match=message):
        await kind.verify(forge(kind))


async def test_custom_claim_names(http: httpx.AsyncClient, jwks: JwksServer) -> None:
    verifier = JwksTokenVerifier(
        http, jwks_url=jwks.url, groups_claim="roles", username_claim="preferred_username"
    )
    claims = {"preferred_username": "lab-pc", "sub": "s", "roles": ["workers"], "exp": now() + 60}
    assert await verifier.verify(sign(claims, rsa_key("k1"))) == Principal(
        "lab-pc", frozenset({"workers"})
    )
    claims["cognito:groups"] = claims.pop("roles")
    assert (await verifier.verify(sign(claims, rsa_key("k1")))).groups == frozenset()


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"token_use": "access", "client_id": CLIENT, "username": "box"}, True),
        ({"token_use": "id", "aud": CLIENT, "cognito:username": "box"}, True),
        ({"token_use": "id", "aud": [CLIENT, "x"], "cognito:username": "box"}, True),
        ({"token_use": "access", "client_id": "other-client", "username": "box"}, False),
        ({"token_use": "id", "aud": "other-client", "cognito:username": "box"}, False),
        ({"token_use": "access", "username": "box"}, False),
        ({"token_use": "refresh", "client_id": CLIENT, "username": "box"}, False),
        ({"client_id": CLIENT, "username": "box"}, False),
    ],
)
async def test_cognito_client_id_and_token_use(
    http: httpx.AsyncClient, jwks: JwksServer, claims: dict[str, Any], accepted: bool
) -> None:
    verifier = cognito_verifier(REGION, POOL, CLIENT, http, jwks_url=jwks.url)
    token = sign({"iss": COGNITO_ISSUER, "exp": now() + 60, **claims}, rsa_key("k1"))
    if accepted:
        assert (await verifier.verify(token)).username == "box"
    else:
        with pytest.raises(NotAuthenticated):
            await verifier.verify(token)


def test_cognito_verifier_points_at_the_user_pool(http: httpx.AsyncClient) -> None:
    verifier = cognito_verifier(REGION, POOL, CLIENT, http)
    assert verifier.jwks.url == f"{COGNITO_ISSUER}/.well-known/jwks.json"
    assert verifier.rules.issuer == COGNITO_ISSUER
    assert verifier.rules.client_id == CLIENT
    emulated = cognito_verifier(REGION, POOL, CLIENT, http, endpoint_url="http://127.0.0.1:5000/")
    assert emulated.jwks.url == f"http://127.0.0.1:5000/{POOL}/.well-known/jwks.json"
    assert emulated.rules.issuer == COGNITO_ISSUER  # what Cognito and moto put in `iss`


async def test_the_jwks_is_fetched_once_and_cached(
    http: httpx.AsyncClient, jwks: JwksServer
) -> None:
    verifier = remote(http, jwks, ManualClock())
    names = [f"box-{n}" for n in range(20)]
    principals = await asyncio.gather(*(verifier.verify(token_of("k1", n)) for n in names))
    assert [p.username for p in principals] == names
    assert jwks.requests == 1


async def test_key_rotation_refetches_once_and_rate_limits_unknown_kids(
    http: httpx.AsyncClient, jwks: JwksServer
) -> None:
    clock = ManualClock()
    verifier = remote(http, jwks, clock)
    await verifier.verify(token_of("k1"))
    clock.now += 10
    jwks.publish(rsa_key("k1"), rsa_key("k2"))
    assert (await verifier.verify(token_of("k2", "rotated"))).username == "rotated"
    assert jwks.requests == 2

    forged = [token_of(f"forged-{n}") for n in range(3)] * 10
    outcomes = await asyncio.gather(*map(verifier.verify, forged), return_exceptions=True)
    assert all(isinstance(outcome, NotAuthenticated) for outcome in outcomes)
    assert jwks.requests == 2
    clock.now += 10
    with pytest.raises(NotAuthenticated, match="unknown key"):
        await verifier.verify(token_of("forged-0"))
    assert jwks.requests == 3


async def test_a_stale_jwks_is_fetched_again_and_removed_keys_stop_working(
    http: httpx.AsyncClient, jwks: JwksServer
) -> None:
    clock = ManualClock()
    verifier = remote(http, jwks, clock)
    await verifier.verify(token_of("k1"))
    jwks.publish(rsa_key("k2"))
    clock.now += 600
    with pytest.raises(NotAuthenticated):
        await verifier.verify(token_of("k1"))
    assert jwks.requests == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, b"busy"), (404, b"{}"), (200, b"<html>"), (200, b'{"keys": []}'), (200, b"[1]")],
)
async def test_a_broken_jwks_endpoint_is_unavailable(
    http: httpx.AsyncClient, jwks: JwksServer, status: int, body: bytes
) -> None:
    jwks.status, jwks.body = status, body
    with pytest.raises(Unavailable, match="JWKS"):
        await remote(http, jwks, ManualClock()).verify(token_of("k1"))


async def test_an_unreachable_jwks_endpoint_is_unavailable(http: httpx.AsyncClient) -> None:
    with JwksServer(rsa_key("k1")) as gone:
        url = gone.url
    verifier = JwksTokenVerifier(http, jwks_url=url)
    with pytest.raises(Unavailable, match="unreachable"):
        await verifier.verify(token_of("k1"))


async def test_known_keys_keep_working_while_the_endpoint_is_down(
    http: httpx.AsyncClient, jwks: JwksServer
) -> None:
    clock = ManualClock()
    verifier = remote(http, jwks, clock)
    await verifier.verify(token_of("k1"))
    jwks.status = 500
    clock.now += 600
    assert (await verifier.verify(token_of("k1", "still"))).username == "still"
    with pytest.raises(NotAuthenticated, match="unknown key"):
        await verifier.verify(token_of("k2"))


async def test_local_tokens_verify_on_another_instance_of_the_same_folder(tmp_path: Path) -> None:
    token = LocalIssuer(tmp_path).mint("gpu-box-1", ["workers", "cloud", "workers"], 60)
    principal = await LocalIssuer(tmp_path).verifier().verify(token)
    assert principal == Principal("gpu-box-1", frozenset({"workers", "cloud"}))
    with pytest.raises(NotAuthenticated, match="unknown key"):
        await LocalIssuer(tmp_path / "elsewhere").verifier().verify(token)


def test_the_local_key_is_private_to_its_owner_and_made_on_first_use(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path / "data")
    assert not (tmp_path / "data").exists()
    previous = os.umask(0)
    try:
        kid = issuer.signing_key().kid
    finally:
        os.umask(previous)
    assert issuer.key_path == tmp_path / "data" / "auth" / "signing-key.json"
    assert stat.S_IMODE(issuer.key_path.stat().st_mode) == 0o600
    assert [p.name for p in issuer.key_path.parent.iterdir()] == ["signing-key.json"]
    assert LocalIssuer(tmp_path / "data").signing_key().kid == kid


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        kids = set(pool.map(lambda _: LocalIssuer(tmp_path).signing_key().kid, range(8)))
    assert len(kids) == 1
    assert len(list((tmp_path / "auth").iterdir())) == 1


async def test_the_local_jwks_is_public_and_verifies_over_http(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    issuer = LocalIssuer(tmp_path)
    document = issuer.jwks()
    [key] = document["keys"]
    assert key["kty"] == "RSA"
    assert key["kid"] == issuer.signing_key().kid
    assert not PRIVATE_PARTS & set(key)
    with JwksServer() as server:
        server.document = document
        verifier = JwksTokenVerifier(
            http, jwks_url=server.url, issuer=issuer.issuer, audience=issuer.audience
        )
        token = issuer.mint("lab-pc", ["workers"], 60)
        assert await verifier.verify(token) == Principal("lab-pc", frozenset({"workers"}))


def test_a_broken_key_file_or_bad_mint_request_is_refused(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    with pytest.raises(ValueError, match="ttl"):
        issuer.mint("box", ["workers"], 0)
    with pytest.raises(ValueError, match="username"):
        issuer.mint(" ", ["workers"], 60)
    issuer.key_path.parent.mkdir(parents=True)
    issuer.key_path.write_text(json.dumps(rsa_key("k1").as_dict(private=False)))
    with pytest.raises(KeyFileError, match="private"):
        LocalIssuer(tmp_path).mint("box", ["workers"], 60)
    issuer.key_path.write_text("not json")
    with pytest.raises(KeyFileError, match=r"signing-key\.json"):
        LocalIssuer(tmp_path).jwks()


@pytest.fixture(scope="module")
def cognito() -> Any:
    """A Cognito user pool emulated by moto's server: real id and access tokens."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield cognito_pool(f"http://{host}:{port}", REGION)
    finally:
        server.stop()


@pytest.mark.parametrize("token", ["IdToken", "AccessToken"])
async def test_cognito_id_and_access_tokens_of_a_user_pool(
    cognito: dict[str, str], http: httpx.AsyncClient, token: str
) -> None:
    pool, jwks_url = cognito["pool"], cognito["jwks_url"]
    # the pool's keys fetched from the emulator's endpoint, as COGNITO_* + AWS_ENDPOINT_URL do
    ours = cognito_verifier(REGION, pool, cognito["client"], http, endpoint_url=cognito["endpoint"])
    expected = Principal("gpu-box-1", frozenset({"workers"}))
    assert await ours.verify(cognito[token]) == expected
    theirs = cognito_verifier(REGION, pool, "another-app-client", http, jwks_url=jwks_url)
    with pytest.raises(NotAuthenticated, match="another client"):
        await theirs.verify(cognito[token])
    other_pool = cognito_verifier(
        REGION, "eu-west-1_Other", cognito["client"], http, jwks_url=jwks_url
    )
    with pytest.raises(NotAuthenticated, match="iss"):
        await other_pool.verify(cognito[token])
