"""Where the agent's bearer token comes from: given, a file, the local issuer, or Cognito."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from adapters.auth.local import LocalIssuer
from domain.runs.ports import ApiUnavailable


class StaticToken:
    def __init__(self, token: str) -> None:
        self._token = token.strip()

    async def token(self) -> str:
        return self._token

    def invalidate(self) -> None:
        """Nothing to refresh: the same token is all there is."""


class FileToken:
    """A token kept in a file (e.g. written by a sidecar), re-read whenever it changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._token = ""

    async def token(self) -> str:
        stat = await asyncio.to_thread(os.stat, self._path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._token = (await asyncio.to_thread(self._path.read_text)).strip()
            self._stamp = stamp
        return self._token

    def invalidate(self) -> None:
        self._stamp = None


class LocalIssuerToken:
    """Minted from a jobcloud data folder (the embedded default's key), renewed at 4/5 of
    its life."""

    def __init__(
        self, data_dir: Path, username: str, groups: Sequence[str] = ("workers",), ttl: int = 3600
    ) -> None:
        self._issuer = LocalIssuer(data_dir)
        self._username, self._groups, self._ttl = username, list(groups), ttl
        self._token, self._renew_at = "", 0.0
        self._lock = asyncio.Lock()  # slots asking at once: one mint

    async def token(self) -> str:
        async with self._lock:
            if time.monotonic() >= self._renew_at:
                self._token = await asyncio.to_thread(
                    self._issuer.mint, self._username, self._groups, self._ttl
                )
                self._renew_at = time.monotonic() + self._ttl * 0.8
            return self._token

    def invalidate(self) -> None:
        self._renew_at = 0.0


class CognitoToken:
    """DECODE's fetcher login: USER_PASSWORD_AUTH against the pool `/access_info` names;
    the ID token, renewed `min_validity` seconds before it expires."""

    def __init__(
        self,
        api_url: str,
        username: str,
        password: str,
        *,
        min_validity: float = 300,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._username, self._password = username, password
        self._min_validity = min_validity
        self._http = http
        self._client: Any = None
        self._client_id = ""
        self._token, self._expires = "", 0.0
        self._lock = asyncio.Lock()  # slots asking at once: one login

    async def _connect(self) -> None:
        import boto3

        http = self._http or httpx.AsyncClient(timeout=30)
        try:
            reply = await http.get(f"{self._api_url}/access_info")
            reply.raise_for_status()
            cognito = reply.json()["cognito"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ApiUnavailable(f"GET /access_info: {exc}") from None
        finally:
            if self._http is None:
                await http.aclose()
        self._client_id = cognito["client_id"]
        self._client = boto3.client("cognito-idp", region_name=cognito["region"])

    async def token(self) -> str:
        async with self._lock:
            if self._client is None:
                await self._connect()
            if time.monotonic() >= self._expires:
                await self._login()
            return self._token

    async def _login(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = await asyncio.to_thread(
                self._client.initiate_auth,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": self._username, "PASSWORD": self._password},
                ClientId=self._client_id,
            )
        except (BotoCoreError, ClientError) as exc:
            raise ApiUnavailable(f"Cognito login of {self._username!r}: {exc}") from None
        result = answer["AuthenticationResult"]
        lifetime = float(result["ExpiresIn"])
        self._token = result["IdToken"]
        self._expires = time.monotonic() + lifetime - min(self._min_validity, lifetime / 2)

    def invalidate(self) -> None:
        self._expires = 0.0
