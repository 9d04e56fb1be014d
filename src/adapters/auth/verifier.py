"""RS256 JWT verification against a key set: the TokenVerifier port."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    InvalidKeyIdError,
    JoseError,
    MissingAlgorithmError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from adapters.auth.claims import COGNITO_GROUPS, COGNITO_USERNAME, ClaimRules, principal_from
from adapters.auth.keys import KeySource, RemoteJwks
from domain.errors import NotAuthenticated
from domain.workers import Principal

ALGORITHMS = ["RS256"]
COGNITO_ISSUER = "https://cognito-idp.{region}.amazonaws.com/{pool}"
COGNITO_TOKEN_USES = frozenset({"id", "access"})


class _UnknownKey(Exception):
    """The token names a key the set does not hold (the keys may have rotated)."""


class KeySetVerifier:
    """Verifies RS256 tokens with the keys of a KeySource, then checks their claims."""

    def __init__(
        self,
        keys: KeySource,
        rules: ClaimRules,
        *,
        cache_size: int = 4096,
        cache_seconds: float = 60.0,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.rules = rules
        # A worker sends the same token with every request: remember verified tokens for
        # `cache_seconds`, never past their `exp`, and only while the key set that verified
        # them is current (a rotated-out key stops working at once).
        self._cache: dict[str, tuple[Principal, float, KeySet]] = {}
        self._cache_size = cache_size
        self._cache_seconds = cache_seconds
        self._wallclock = wallclock

    async def verify(self, token: str) -> Principal:
        if not token:
            raise NotAuthenticated("missing token")
        now = self._wallclock()
        hit = self._cache.get(token)  # verified before: its shape is known to be fine
        if hit is not None and hit[1] > now and hit[2] is await self.keys.current():
            return hit[0]
        _check_shape(token)  # garbage never costs a JWKS fetch
        known = await self.keys.current()
        try:
            claims = _decode(token, known)
        except _UnknownKey:
            claims = await self._with_fresh_keys(token, known)
        principal = principal_from(claims, self.rules)
        self._remember(token, principal, claims, now, await self.keys.current())
        return principal

    def _remember(
        self,
        token: str,
        principal: Principal,
        claims: dict[str, object],
        now: float,
        keys: KeySet,
    ) -> None:
        exp = claims.get("exp")
        if self._cache_seconds <= 0 or not isinstance(exp, int | float):
            return
        if len(self._cache) >= self._cache_size:
            self._cache.pop(next(iter(self._cache)))  # the oldest entry
        self._cache[token] = (principal, min(float(exp), now + self._cache_seconds), keys)

    async def _with_fresh_keys(self, token: str, known: KeySet) -> dict[str, object]:
        fresh = await self.keys.refresh(known)
        if fresh is not known:
            with contextlib.suppress(_UnknownKey):
                return _decode(token, fresh)
        raise NotAuthenticated("token signed by an unknown key")


class JwksTokenVerifier(KeySetVerifier):
    """Tokens of an OpenID Connect / Cognito provider, its JWKS fetched over HTTP.

    `client_id`: a Cognito app client, accepted in `aud` or `client_id`. `token_use`: accepted
    values of the `token_use` claim. `min_refetch_interval`: seconds between two JWKS fetches
    caused by unknown key ids. `max_age`: seconds before the cached JWKS is fetched again.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        jwks_url: str,
        issuer: str | None = None,
        audience: str | None = None,
        client_id: str | None = None,
        token_use: Iterable[str] | None = None,
        groups_claim: str = COGNITO_GROUPS,
        username_claim: str = COGNITO_USERNAME,
        leeway: int = 30,
        min_refetch_interval: float = 5.0,
        max_age: float = 3600.0,
        timeout: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jwks = RemoteJwks(
            http,
            jwks_url,
            min_interval=min_refetch_interval,
            max_age=max_age,
            timeout=timeout,
            monotonic=monotonic,
        )
        rules = ClaimRules(
            issuer=issuer,
            audience=audience,
            client_id=client_id,
            token_use=None if token_use is None else frozenset(token_use),
            groups_claim=groups_claim,
            username_claim=username_claim,
            leeway=leeway,
        )
        super().__init__(self.jwks, rules)


def cognito_verifier(
    region: str,
    user_pool_id: str,
    client_id: str,
    http: httpx.AsyncClient,
    *,
    endpoint_url: str | None = None,
    jwks_url: str | None = None,
    min_refetch_interval: float = 5.0,
) -> JwksTokenVerifier:
    """Id or access tokens of one Cognito user pool app client.

    The keys are fetched from `<endpoint>/<pool>/.well-known/jwks.json`, the endpoint being
    AWS's own or `endpoint_url` (cognito-idp of an emulator: moto and LocalStack serve the
    pool's keys there); `jwks_url` names the key set's URL outright. The issuer checked stays
    the pool's `https://cognito-idp.<region>.amazonaws.com/<pool>`, which is what Cognito and
    moto put in `iss` whatever the endpoint.
    """
    issuer = COGNITO_ISSUER.format(region=region, pool=user_pool_id)
    if jwks_url is None:
        base = endpoint_url.rstrip("/") + f"/{user_pool_id}" if endpoint_url else issuer
        jwks_url = f"{base}/.well-known/jwks.json"
    return JwksTokenVerifier(
        http,
        jwks_url=jwks_url,
        issuer=issuer,
        client_id=client_id,
        token_use=COGNITO_TOKEN_USES,
        min_refetch_interval=min_refetch_interval,
    )


def _check_shape(token: str) -> None:
    try:
        extract_compact(token.encode())
    except (JoseError, ValueError, TypeError, UnicodeError) as exc:
        raise NotAuthenticated("malformed token") from exc


def _decode(token: str, keys: KeySet) -> dict[str, object]:
    try:
        return jwt.decode(token, keys, algorithms=ALGORITHMS).claims
    except InvalidKeyIdError as exc:
        raise _UnknownKey from exc
    except BadSignatureError as exc:
        raise NotAuthenticated("bad token signature") from exc
    except (UnsupportedAlgorithmError, MissingAlgorithmError) as exc:
        raise NotAuthenticated("token algorithm not accepted (RS256 only)") from exc
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise NotAuthenticated("malformed token") from exc
