"""Where verification keys come from: a fixed set, or a JWKS fetched over HTTP and cached."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from domain.errors import Unavailable

log = logging.getLogger(__name__)


class KeySource(Protocol):
    async def current(self) -> KeySet:
        """The key set to verify with; Unavailable when there is none."""
        ...

    async def refresh(self, stale: KeySet) -> KeySet:
        """A newer key set than `stale` when one may be fetched now, else the current one."""
        ...


class StaticKeys:
    """A key set held in memory (the local issuer's)."""

    def __init__(self, load: Callable[[], KeySet]) -> None:
        self._load = load
        self._keys: KeySet | None = None

    async def current(self) -> KeySet:
        if self._keys is None:
            self._keys = await asyncio.to_thread(self._load)  # reads the data folder once
        return self._keys

    async def refresh(self, stale: KeySet) -> KeySet:
        return await self.current()


class RemoteJwks:
    """A JWKS document fetched with an async HTTP client, cached.

    The set is fetched on first use and again after `max_age` seconds. `refresh` (an unknown
    `kid`: the keys may have rotated) fetches at most once per `min_interval` seconds, so a
    flood of forged key ids cannot hammer the identity provider. When a re-fetch fails, the
    keys already known keep being used.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        min_interval: float = 5.0,
        max_age: float = 3600.0,
        timeout: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._http = http
        self._min_interval = min_interval
        self._max_age = max_age
        self._timeout = timeout
        self._monotonic = monotonic
        self._keys: KeySet | None = None
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._lock = asyncio.Lock()

    async def current(self) -> KeySet:
        if self._keys is not None and not self._too_old():
            return self._keys
        async with self._lock:
            if self._keys is None:
                return await self._fetch()
            if self._too_old() and self._may_fetch():
                return await self._fetch_or_keep(self._keys)
            return self._keys

    async def refresh(self, stale: KeySet) -> KeySet:
        async with self._lock:
            if self._keys is None:
                return await self._fetch()
            if self._keys is not stale or not self._may_fetch():
                return self._keys  # already refreshed meanwhile, or too soon to ask again
            return await self._fetch_or_keep(self._keys)

    def _too_old(self) -> bool:
        return self._monotonic() - self._fetched_at >= self._max_age

    def _may_fetch(self) -> bool:
        return self._monotonic() - self._attempted_at >= self._min_interval

    async def _fetch_or_keep(self, known: KeySet) -> KeySet:
        try:
            return await self._fetch()
        except Unavailable as exc:
            log.warning("keeping the known keys: %s", exc)
            return known

    async def _fetch(self) -> KeySet:
        self._attempted_at = self._monotonic()
        keys = parse_jwks(await self._download(), self.url)
        self._keys, self._fetched_at = keys, self._monotonic()
        return keys

    async def _download(self) -> Any:
        try:
            response = await self._http.get(self.url, timeout=self._timeout)
            response.raise_for_status()
            return response.json()
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            raise Unavailable(f"JWKS endpoint {self.url} answered {status}") from exc
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise Unavailable(f"JWKS endpoint {self.url} unreachable: {reason}") from exc
        except ValueError as exc:
            raise Unavailable(f"JWKS endpoint {self.url} did not answer JSON") from exc


def parse_jwks(document: Any, source: str) -> KeySet:
    """The key set of a JWKS document; Unavailable when it holds no usable key."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise Unavailable(f"JWKS from {source} is not a key set ({{'keys': [...]}})")
    try:
        return KeySet.import_key_set({"keys": document["keys"]})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise Unavailable(f"JWKS from {source} holds no usable key: {exc}") from exc
