"""What the tracker needs from a store: pipelines, tokens and the tasks' side of the jobs.

Tasks are jobs (`domain.pipelines.porch`): they are added, saved and re-run through
`JobStore`; these ports add what only the tracker asks."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.jobs import Job, Status
from domain.pipelines.porch import Pipeline
from domain.pipelines.tokens import TokenGrant


class PipelineStore(Protocol):
    async def add_pipeline(self, pipeline: Pipeline, now: datetime) -> Pipeline:
        """PipelineExists when the name is taken."""
        ...

    async def pipeline(self, name: str) -> Pipeline:
        """PipelineNotFound."""
        ...

    async def pipelines(self, uri: str | None = None, version: str | None = None) -> list[Pipeline]:
        """By name; filtered by uri and version when given."""
        ...

    async def add_token(
        self, hashed: str, description: str, pipeline: str | None, now: datetime
    ) -> TokenGrant:
        """Keep a token (its hash) for `pipeline` (None: admin); PipelineNotFound."""
        ...

    async def grant(self, hashed: str) -> TokenGrant | None:
        """The grant of a token not revoked, or None."""
        ...

    async def revoke(self, pipeline: str | None, description: str, now: datetime) -> int:
        """Revoke the tokens of that description (of `pipeline`, or admin ones); how many."""
        ...


@dataclass(frozen=True, slots=True)
class StatusCount:
    namespace: str
    status: Status
    count: int


class TaskStore(Protocol):
    async def task(self, namespace: str, key: str) -> Job | None:
        """The job of that namespace holding `key`, or None."""
        ...

    async def tasks(
        self,
        namespace: str | None,
        statuses: Collection[Status] | None,
        limit: int,
        offset: int,
    ) -> list[Job]:
        """Jobs of `namespace` (None: of every pipeline), oldest first."""
        ...

    async def claim_tasks(
        self, namespace: str, limit: int, by: str, now: datetime, *, lease: bool
    ) -> list[Job]:
        """Atomically move up to `limit` queued jobs of `namespace`, oldest first, to `pulled`
        for `by`, skipping rows other claimers hold; each claim an event. `lease`: their
        lease starts now (else none runs)."""
        ...

    async def counts(self) -> list[StatusCount]:
        """How many tasks per pipeline namespace and status."""
        ...

    async def active_since(self, before: datetime, limit: int) -> list[Job]:
        """Tasks claimed or running whose status has not changed since `before`, oldest
        first."""
        ...

    async def ended_since(self, status: Status, after: datetime, limit: int) -> list[Job]:
        """Tasks that went to `status` after `after`, latest first."""
        ...

    async def silent(self, namespace: str, before: datetime, limit: int) -> list[Job]:
        """Claimed or running tasks of `namespace` whose lease started before `before`."""
        ...
