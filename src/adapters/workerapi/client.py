"""QueueClient over HTTP: `POST {WORKERFACING_API_URL}/_jobs` with x-api-key and an
Idempotency-Key. httpx errors and unexpected answers become domain errors here."""

from __future__ import annotations

from typing import Any

import httpx

from domain.errors import Rejected, Unavailable
from domain.jobs import NewJob
from domain.userjobs.submission import SUBMISSION_NAMESPACE


def submitted_document(job: NewJob) -> dict[str, Any]:
    """The worker API's POST /_jobs body."""
    paths = job.paths_upload
    return {
        "job": job.spec.document(),
        "environment": job.environment.value if job.environment else None,
        "group": job.group,
        "priority": job.priority,
        "paths_upload": {"output": paths.output, "log": paths.log, "artifact": paths.artifact},
    }


class HttpQueueClient:
    def __init__(
        self, http: httpx.AsyncClient, base_url: str, api_key: str, timeout: float = 10.0
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/_jobs"
        self._api_key = api_key
        self._timeout = timeout

    async def submit(self, job: NewJob, idempotency_key: str) -> int:
        """A run-once key kept forever in the `userapi` namespace: a repeat, even after the
        job ended, returns the same job (a DECODE worker API ignores the key)."""
        headers = {"x-api-key": self._api_key, "Idempotency-Key": idempotency_key}
        body = {
            **submitted_document(job),
            "namespace": SUBMISSION_NAMESPACE,
            "key_scope": "forever",
        }
        try:
            reply = await self._http.post(
                self._url, json=body, headers=headers, timeout=self._timeout
            )
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise Unavailable(f"worker API unreachable: {type(exc).__name__}: {exc}") from exc
        if reply.status_code in (200, 201):
            try:
                return int(reply.json()["id"])
            except (ValueError, KeyError, TypeError) as exc:
                raise Unavailable(f"worker API answered without a job id: {exc}") from exc
        if reply.status_code >= 500 or reply.status_code in (401, 403, 408, 429):
            raise Unavailable(f"worker API answered {reply.status_code}")
        raise Rejected(f"worker API answered {reply.status_code}: {reply.text[:500]}")
