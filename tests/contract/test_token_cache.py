"""The verified-token cache: fast for a worker's repeated token, never past `exp`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from adapters.auth.claims import ClaimRules
from adapters.auth.keys import StaticKeys
from adapters.auth.local import LocalIssuer
from adapters.auth.verifier import KeySetVerifier
from domain.errors import NotAuthenticated


class Wallclock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def verifier_for(issuer: LocalIssuer, clock: Wallclock, **kwargs: float) -> KeySetVerifier:
    rules = ClaimRules(issuer=issuer.issuer, audience=issuer.audience, leeway=0)
    return KeySetVerifier(StaticKeys(issuer.key_set), rules, wallclock=clock, **kwargs)  # type: ignore[arg-type]


async def test_a_cached_token_still_expires_at_its_exp(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    clock = Wallclock()
    verifier = verifier_for(issuer, clock)
    token = issuer.mint("gpu1", ["workers"], 30)
    assert (await verifier.verify(token)).username == "gpu1"
    # From now on a full check would refuse the token: only the cache can accept it.
    verifier.rules = ClaimRules(issuer="someone-else", leeway=0)
    clock.now += 20
    assert (await verifier.verify(token)).username == "gpu1"
    clock.now += 15  # past exp: the cache must not answer any more
    with pytest.raises(NotAuthenticated):
        await verifier.verify(token)


async def test_a_forged_token_is_never_answered_from_the_cache(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    verifier = verifier_for(issuer, Wallclock())
    token = issuer.mint("gpu1", ["workers"], 300)
    await verifier.verify(token)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(NotAuthenticated):
        await verifier.verify(forged)


async def test_the_cache_is_bounded(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    verifier = verifier_for(issuer, Wallclock(), cache_size=3)
    for n in range(10):
        await verifier.verify(issuer.mint(f"w{n}", ["workers"], 300))
    assert len(verifier._cache) == 3


async def test_garbage_is_refused_without_fetching_any_keys() -> None:
    import httpx

    from adapters.auth.verifier import JwksTokenVerifier

    async with httpx.AsyncClient() as http:
        # Nothing listens there: a fetch would be Unavailable, a refusal is NotAuthenticated.
        verifier = JwksTokenVerifier(http, jwks_url="http://127.0.0.1:9/jwks", issuer="i")
        for garbage in ("x.y.z", "not-a-jwt", "a.b"):
            with pytest.raises(NotAuthenticated):
                await verifier.verify(garbage)
