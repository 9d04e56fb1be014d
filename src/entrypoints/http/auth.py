"""Who is calling: bearer tokens for workers, the API key for the user side."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from litestar import Request

from domain.errors import NotAuthenticated
from domain.ports import TokenVerifier
from domain.workers import Principal
from entrypoints.http.access_log import remember_caller


@dataclass(frozen=True, slots=True)
class InternalCaller:
    """Proof that the request carried the right x-api-key."""


@dataclass(frozen=True, slots=True)
class AccessInfo:
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LocalJwks:
    document: dict[str, Any] | None


def bearer_token(request: Request[Any, Any, Any]) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("missing bearer token (Authorization: Bearer <JWT>)")
    return token.strip()


async def authenticate(request: Request[Any, Any, Any], verifier: TokenVerifier) -> Principal:
    principal = await verifier.verify(bearer_token(request))
    remember_caller(request.scope, principal.username)
    return principal


def check_api_key(request: Request[Any, Any, Any], expected: str | None) -> InternalCaller:
    given = request.headers.get("x-api-key")
    if expected is None:
        raise NotAuthenticated("internal endpoints are disabled: no INTERNAL_API_KEY_SECRET")
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAuthenticated("missing or wrong x-api-key")
    return InternalCaller()
