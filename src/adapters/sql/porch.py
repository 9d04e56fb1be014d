"""The PipelineStore port on SQL: npg_porch pipelines and their tokens (hashed)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import transaction
from adapters.sql.tables import porch_pipelines, porch_tokens
from domain.pipelines.porch import Pipeline, PipelineExists, PipelineNotFound
from domain.pipelines.tokens import TokenGrant

_p, _t = porch_pipelines.c, porch_tokens.c


def _pipeline(row: Mapping[Any, Any]) -> Pipeline:
    return Pipeline(row["name"], row["uri"], row["version"], row["lease_seconds"])


class SqlPipelineStore:
    """Pipelines never change once made (there is no endpoint to): those read are kept in
    memory. Grants are kept `grant_ttl` seconds: a token revoked by another process stops
    working within that time (at once in this one)."""

    def __init__(self, engine: AsyncEngine, *, grant_ttl: float = 2.0) -> None:
        self._engine = engine
        self._known: dict[str, Pipeline] = {}
        self._grants: dict[str, tuple[TokenGrant, float]] = {}
        self._grant_ttl = grant_ttl

    async def add_pipeline(self, pipeline: Pipeline, now: datetime) -> Pipeline:
        values = {
            "name": pipeline.name,
            "uri": pipeline.uri,
            "version": pipeline.version,
            "lease_seconds": pipeline.lease_seconds,
            "created_at": now,
        }
        try:
            async with transaction(self._engine) as s:
                await s.execute(insert(porch_pipelines).values(values))
        except IntegrityError:
            raise PipelineExists(pipeline.name) from None
        return pipeline

    async def pipeline(self, name: str) -> Pipeline:
        if name in self._known:
            return self._known[name]
        async with transaction(self._engine) as s:
            row = (
                (await s.execute(select(porch_pipelines).where(_p.name == name)))
                .mappings()
                .one_or_none()
            )
        if row is None:
            raise PipelineNotFound(name)
        self._known[name] = _pipeline(row)
        return self._known[name]

    async def pipelines(self, uri: str | None = None, version: str | None = None) -> list[Pipeline]:
        statement = select(porch_pipelines).order_by(_p.name)
        if uri is not None:
            statement = statement.where(_p.uri == uri)
        if version is not None:
            statement = statement.where(_p.version == version)
        async with transaction(self._engine) as s:
            rows = (await s.execute(statement)).mappings().all()
        return [_pipeline(row) for row in rows]

    async def add_token(
        self, hashed: str, description: str, pipeline: str | None, now: datetime
    ) -> TokenGrant:
        async with transaction(self._engine) as s:
            pipeline_id = None
            if pipeline is not None:
                pipeline_id = await s.scalar(select(_p.id).where(_p.name == pipeline))
                if pipeline_id is None:
                    raise PipelineNotFound(pipeline)
            token_id = await s.scalar(
                insert(porch_tokens)
                .values(
                    token_hash=hashed,
                    description=description,
                    pipeline_id=pipeline_id,
                    created_at=now,
                )
                .returning(_t.id)
            )
        assert token_id is not None
        return TokenGrant(token_id, description, pipeline)

    async def grant(self, hashed: str) -> TokenGrant | None:
        kept = self._grants.get(hashed)
        if kept is not None and time.monotonic() < kept[1]:
            return kept[0]
        statement = (
            select(_t.id, _t.description, _p.name)
            .select_from(porch_tokens.outerjoin(porch_pipelines, _t.pipeline_id == _p.id))
            .where(_t.token_hash == hashed, _t.revoked_at.is_(None))
        )
        async with transaction(self._engine) as s:
            row = (await s.execute(statement)).one_or_none()
        if row is None:
            return None
        grant = TokenGrant(row.id, row.description, row.name)
        if self._grant_ttl > 0:
            self._grants[hashed] = (grant, time.monotonic() + self._grant_ttl)
        return grant

    async def revoke(self, pipeline: str | None, description: str, now: datetime) -> int:
        owner = (
            _t.pipeline_id.is_(None)
            if pipeline is None
            else _t.pipeline_id == select(_p.id).where(_p.name == pipeline).scalar_subquery()
        )
        statement = (
            update(porch_tokens)
            .where(owner, _t.description == description, _t.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        async with transaction(self._engine) as s:
            result = await s.execute(statement)
        self._grants.clear()
        return int(result.rowcount)
