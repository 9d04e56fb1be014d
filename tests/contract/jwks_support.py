"""Test support for token verification: a JWKS served over real HTTP, keys, forged tokens."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from adapters.auth.verifier import JwksTokenVerifier
from domain.ports import TokenVerifier
from domain.workers import Principal

DROP = object()


class JwksServer:
    """Serves one JWKS document at /jwks.json on 127.0.0.1 (random port), counting requests.

    `status` and `body` override the answer (an identity provider in trouble).
    """

    def __init__(self, *keys: RSAKey) -> None:
        self.requests = 0
        self.status = 200
        self.body: bytes | None = None
        self._lock = threading.Lock()
        self.publish(*keys)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self._http.serve_forever(poll_interval=0.02)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/jwks.json"

    def publish(self, *keys: RSAKey) -> None:
        self.document = {"keys": [key.as_dict(private=False) for key in keys]}

    def answer(self) -> tuple[int, bytes]:
        with self._lock:
            self.requests += 1
        return self.status, self.body if self.body is not None else json.dumps(
            self.document
        ).encode()

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


def _handler(server: JwksServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = server.answer() if self.path == "/jwks.json" else (404, b"{}")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class ManualClock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@functools.cache
def rsa_key(kid: str) -> RSAKey:
    """A real RS256 key, generated once per test session for each kid."""
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})


def sign(claims: dict[str, Any], key: RSAKey, **header: Any) -> str:
    return jwt.encode({"alg": "RS256", "kid": key.kid, **header}, claims, key, algorithms=["RS256"])


def now() -> int:
    return int(time.time())


def b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], kid: str | None) -> str:
    """The `alg: none` attack: no signature at all."""
    return f"{b64({'alg': 'none', 'kid': kid, 'typ': 'JWT'})}.{b64(claims)}."


def hs256_with_public_key(claims: dict[str, Any], key: RSAKey) -> str:
    """The algorithm-confusion attack: HMAC keyed with the (public) RSA key's PEM."""
    signing_input = f"{b64({'alg': 'HS256', 'kid': key.kid, 'typ': 'JWT'})}.{b64(claims)}"
    secret = key.as_pem(private=False)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def tamper(token: str, **changes: Any) -> str:
    """The token with claims changed but the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{b64({**claims, **changes})}.{signature}"


@dataclass
class Kind:
    verifier: TokenVerifier
    key: RSAKey
    base: dict[str, Any]

    def claims(self, **changes: Any) -> dict[str, Any]:
        merged = {**self.base, "iat": now(), "exp": now() + 600, **changes}
        return {name: value for name, value in merged.items() if value is not DROP}

    def token(self, **changes: Any) -> str:
        return sign(self.claims(**changes), self.key)

    async def verify(self, token: str) -> Principal:
        return await self.verifier.verify(token)


def identity(**extra: Any) -> dict[str, Any]:
    return {"sub": "0b7c-uuid", "cognito:username": "gpu-box-1", **extra}


def remote(http: httpx.AsyncClient, jwks: JwksServer, clock: ManualClock) -> JwksTokenVerifier:
    return JwksTokenVerifier(
        http, jwks_url=jwks.url, min_refetch_interval=10, max_age=600, monotonic=clock
    )


def token_of(kid: str, username: str = "box") -> str:
    return sign({"cognito:username": username, "exp": now() + 60}, rsa_key(kid))


def cognito_pool(endpoint: str, region: str) -> dict[str, str]:
    """A user pool, an app client, a user in `workers`, and its tokens (moto server)."""
    idp = boto3.client(
        "cognito-idp",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    pool = idp.create_user_pool(PoolName="workers")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="jobcloud", ExplicitAuthFlows=["ADMIN_NO_SRP_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="gpu-box-1")
    password = "Correct-horse-1"
    idp.admin_set_user_password(
        UserPoolId=pool, Username="gpu-box-1", Password=password, Permanent=True
    )
    idp.create_group(UserPoolId=pool, GroupName="workers")
    idp.admin_add_user_to_group(UserPoolId=pool, Username="gpu-box-1", GroupName="workers")
    tokens = idp.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client,
        AuthFlow="ADMIN_NO_SRP_AUTH",
        AuthParameters={"USERNAME": "gpu-box-1", "PASSWORD": password},
    )["AuthenticationResult"]
    jwks_url = f"{endpoint}/{pool}/.well-known/jwks.json"
    return {"pool": pool, "client": client, "endpoint": endpoint, "jwks_url": jwks_url, **tokens}
