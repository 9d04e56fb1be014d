"""The httpx client of DECODE's worker REST contract, as the agent uses it.

Every 404 about a job becomes JobGone (stop that job); network errors, 429 and 5xx become
ApiUnavailable (retried with backoff where the caller has patience); other 4xx ApiRefused.
Request descriptions from the API are sent exactly as given (our token added only when they
point back at the API itself), streamed to and from disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

from adapters.http.retry import backoff, patiently
from adapters.wire.decode import TransferRequestOut, parse_jobs, parse_transfer
from domain.errors import InvalidInput
from domain.jobs import FileKind, JobSpec, Status
from domain.runs.ports import (
    ApiRefused,
    ApiUnavailable,
    JobGone,
    Progress,
    TokenSource,
    TransferFailed,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
CHUNK = 1024 * 1024


class WorkerApiClient:
    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        *,
        timeout: float = 30.0,
        transfer_attempts: int = 3,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._attempts = max(1, transfer_attempts)
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), limits=httpx.Limits(max_connections=32)
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, job_id: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        for attempt in range(2):  # a refused token is refreshed once
            headers = {"Authorization": f"Bearer {await self._tokens.token()}"}
            try:
                reply = await self._http.request(
                    method, self.base_url + path, headers=headers, **kwargs
                )
            except httpx.TransportError as exc:
                raise ApiUnavailable(f"{method} {path}: {type(exc).__name__} {exc}") from None
            if reply.status_code == 401 and attempt == 0:
                self._tokens.invalidate()
                continue
            _raise_for(reply, f"{method} {path}", job_id)
            return reply
        raise AssertionError("unreachable")

    async def pull(self, params: Mapping[str, object], limit: int) -> dict[int, JobSpec]:
        reply = await self._call("GET", "/jobs", params={**params, "limit": limit})
        try:
            return parse_jobs(reply.content)
        except InvalidInput as exc:
            raise ApiRefused(str(exc)) from None

    async def report(
        self, job_id: int, status: Status, details: str | None = None, *, patience: float = 0
    ) -> None:
        params = {"status": status.value}
        if details is not None:
            params["runtime_details"] = details

        async def once() -> None:
            await self._call("PUT", f"/jobs/{job_id}/status", job_id, params=params)

        await patiently(once, patience, f"job {job_id}: report {status}")

    async def _grant(self, method: str, path: str, job_id: int, **kw: Any) -> TransferRequestOut:
        reply = await self._call(method, path, job_id, **kw)
        try:
            return parse_transfer(reply.content)
        except InvalidInput as exc:
            raise ApiRefused(str(exc)) from None

    async def _own(self, grant: TransferRequestOut) -> dict[str, str]:
        """The description's headers; our token added only for the API's own endpoints."""
        headers = dict(grant.headers)
        own = grant.url.startswith(self.base_url + "/")
        if own and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {await self._tokens.token()}"
        return headers

    async def status(self, job_id: int) -> str:
        reply = await self._call("GET", f"/jobs/{job_id}/status", job_id)
        return str(reply.json())

    async def _retried(self, what: str, job_id: int, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self._attempts):
            try:
                return await call()
            except JobGone:
                # The job, or only the file? The job's status tells: 404 there is a stop.
                await self.status(job_id)
                raise TransferFailed(f"{what}: not found") from None
            except (ApiUnavailable, TransferFailed) as exc:
                if attempt + 1 == self._attempts:
                    raise TransferFailed(f"{what}: {exc}") from None
                delay = backoff(attempt)
                log.warning("job %s: %s: %s; retrying in %.1f s", job_id, what, exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def download(
        self, job_id: int, file_id: str, target: Path, progress: Progress | None = None
    ) -> int:
        async def once() -> int:
            grant = await self._grant("GET", f"/files/{file_id}/url", job_id)
            return await self._fetch(grant, target, progress, job_id)

        return await self._retried(f"download of {file_id!r}", job_id, once)

    async def _fetch(
        self, grant: TransferRequestOut, target: Path, progress: Progress | None, job_id: int
    ) -> int:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        headers = await self._own(grant)
        try:
            async with self._http.stream(grant.method.upper(), grant.url, headers=headers) as r:
                _raise_for(r, f"download {grant.url}", job_id)
                total = int(r.headers["content-length"]) if "content-length" in r.headers else None
                size = 0
                with partial.open("wb") as out:
                    async for chunk in r.aiter_raw(CHUNK):
                        out.write(chunk)
                        size += len(chunk)
                        if progress:
                            progress(size, total)
        except httpx.TransportError as exc:
            raise ApiUnavailable(f"download: {type(exc).__name__} {exc}") from None
        if total is not None and size != total:
            raise TransferFailed(f"got {size} of {total} bytes")
        if progress:
            progress(size, size)  # the end, also when the size was not announced
        partial.replace(target)
        return size

    async def upload(
        self,
        job_id: int,
        kind: FileKind,
        base_path: str,
        source: Path,
        name: str,
        progress: Progress | None = None,
    ) -> None:
        async def once() -> None:
            params = {"type": kind.value, "base_path": base_path}
            grant = await self._grant("POST", f"/jobs/{job_id}/files/url", job_id, params=params)
            await self._send(grant, source, name, progress, job_id)

        await self._retried(f"upload of {source.name!r}", job_id, once)

    async def _send(
        self,
        grant: TransferRequestOut,
        source: Path,
        name: str,
        progress: Progress | None,
        job_id: int,
    ) -> None:
        headers = await self._own(grant)
        total = (await asyncio.to_thread(source.stat)).st_size
        with source.open("rb") as handle:
            reader = _Counting(handle, total, progress)
            try:
                reply = await self._http.request(
                    grant.method.upper(),
                    grant.url,
                    headers=headers,
                    data=grant.data,
                    files={"file": (name, reader)},  # type: ignore[dict-item]
                )
            except httpx.TransportError as exc:
                raise ApiUnavailable(f"upload: {type(exc).__name__} {exc}") from None
        _raise_for(reply, f"upload {grant.url}", job_id)


class _Counting:
    """A file whose reads report progress (httpx streams multipart files in chunks)."""

    def __init__(self, handle: Any, total: int, progress: Progress | None) -> None:
        self._handle, self._total, self._progress = handle, total, progress
        self._done = 0
        self.name = getattr(handle, "name", "file")

    def read(self, size: int = -1) -> bytes:
        chunk: bytes = self._handle.read(size if size > 0 else CHUNK)
        self._done += len(chunk)
        if self._progress:
            self._progress(self._done, self._total)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._handle.seek(offset, whence))

    def tell(self) -> int:
        return int(self._handle.tell())

    def fileno(self) -> int:
        return int(self._handle.fileno())


def _raise_for(reply: httpx.Response, what: str, job_id: int | None) -> None:
    code = reply.status_code
    if code < 400:
        return
    if code == 404:
        raise JobGone(job_id, what)
    if code == 429 or code >= 500:
        raise ApiUnavailable(f"{what}: HTTP {code}")
    try:
        body = reply.text[:300]
    except httpx.ResponseNotRead:
        body = ""
    raise ApiRefused(f"{what}: HTTP {code} {body}".strip())
