"""The tracker's stores in memory: the reference the SQL adapters are held to. Tasks are the
jobs of an `InMemoryJobStore`, as they are rows of the SQL jobs table."""

from __future__ import annotations

import itertools
from collections.abc import Collection
from datetime import datetime

from domain.jobs import Job, JobEvent, Status
from domain.pipelines.porch import NAMESPACE_PREFIX, Pipeline, PipelineExists, PipelineNotFound
from domain.pipelines.ports import StatusCount
from domain.pipelines.tokens import TokenGrant
from tests.fakes.store import InMemoryJobStore


class InMemoryPipelineStore:
    def __init__(self) -> None:
        self._pipelines: dict[str, Pipeline] = {}
        # hash -> (grant, revoked)
        self._tokens: dict[str, tuple[TokenGrant, bool]] = {}
        self._ids = itertools.count(1)

    async def add_pipeline(self, pipeline: Pipeline, now: datetime) -> Pipeline:
        if pipeline.name in self._pipelines:
            raise PipelineExists(pipeline.name)
        self._pipelines[pipeline.name] = pipeline
        return pipeline

    async def pipeline(self, name: str) -> Pipeline:
        try:
            return self._pipelines[name]
        except KeyError:
            raise PipelineNotFound(name) from None

    async def pipelines(self, uri: str | None = None, version: str | None = None) -> list[Pipeline]:
        return [
            p
            for _, p in sorted(self._pipelines.items())
            if (uri is None or p.uri == uri) and (version is None or p.version == version)
        ]

    async def add_token(
        self, hashed: str, description: str, pipeline: str | None, now: datetime
    ) -> TokenGrant:
        if pipeline is not None:
            await self.pipeline(pipeline)
        grant = TokenGrant(next(self._ids), description, pipeline)
        self._tokens[hashed] = (grant, False)
        return grant

    async def grant(self, hashed: str) -> TokenGrant | None:
        grant, revoked = self._tokens.get(hashed, (None, True))
        return None if revoked else grant

    async def revoke(self, pipeline: str | None, description: str, now: datetime) -> int:
        hit = [
            h
            for h, (g, revoked) in self._tokens.items()
            if not revoked and g.pipeline == pipeline and g.description == description
        ]
        for h in hit:
            self._tokens[h] = (self._tokens[h][0], True)
        return len(hit)


class InMemoryTaskStore:
    def __init__(self, store: InMemoryJobStore) -> None:
        self._store = store

    def _porch(self) -> list[Job]:
        jobs = self._store._jobs.values()
        found = [j for j in jobs if j.key and j.key.namespace.startswith(NAMESPACE_PREFIX)]
        return sorted(found, key=lambda j: j.id)

    async def task(self, namespace: str, key: str) -> Job | None:
        for job in self._porch():
            if job.key is not None and (job.key.namespace, job.key.key) == (namespace, key):
                return job.snapshot()
        return None

    async def tasks(
        self,
        namespace: str | None,
        statuses: Collection[Status] | None,
        limit: int,
        offset: int,
    ) -> list[Job]:
        found = [
            j.snapshot()
            for j in self._porch()
            if (namespace is None or (j.key is not None and j.key.namespace == namespace))
            and (statuses is None or j.status in statuses)
        ]
        return found[offset : offset + limit]

    async def claim_tasks(
        self, namespace: str, limit: int, by: str, now: datetime, *, lease: bool
    ) -> list[Job]:
        async with self._store._lock:
            queued = [
                j
                for j in self._porch()
                if j.key is not None and j.key.namespace == namespace and j.status is Status.QUEUED
            ]
            queued.sort(key=lambda j: (j.created_at, j.id))
            claimed = []
            for job in queued[:limit]:
                job.status, job.worker, job.updated_at = Status.PULLED, None, now
                job.last_seen = now if lease else None
                job.attempts += 1
                job.version += 1
                self._store._record(
                    job, JobEvent(job.id, now, Status.QUEUED, Status.PULLED, by, notify=False)
                )
                claimed.append(job.snapshot())
            return claimed

    async def counts(self) -> list[StatusCount]:
        totals: dict[tuple[str, Status], int] = {}
        for job in self._porch():
            assert job.key is not None
            totals[(job.key.namespace, job.status)] = (
                totals.get((job.key.namespace, job.status), 0) + 1
            )
        return [StatusCount(ns, status, n) for (ns, status), n in totals.items()]

    async def active_since(self, before: datetime, limit: int) -> list[Job]:
        found = [
            j
            for j in self._porch()
            if j.status.active and j.updated_at is not None and j.updated_at < before
        ]
        found.sort(key=lambda j: (j.updated_at, j.id))
        return [j.snapshot() for j in found[:limit]]

    async def ended_since(self, status: Status, after: datetime, limit: int) -> list[Job]:
        found = [
            j
            for j in self._porch()
            if j.status is status and j.updated_at is not None and j.updated_at > after
        ]
        found.sort(key=lambda j: (j.updated_at, j.id), reverse=True)
        return [j.snapshot() for j in found[:limit]]

    async def silent(self, namespace: str, before: datetime, limit: int) -> list[Job]:
        found = [
            j.snapshot()
            for j in self._porch()
            if j.key is not None
            and j.key.namespace == namespace
            and j.status.active
            and j.last_seen is not None
            and j.last_seen < before
        ]
        return found[:limit]
