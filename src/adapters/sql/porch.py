"""The PipelineStore port on SQL: npg_porch pipelines and their tokens (hashed)."""

from __future__ import annotations

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
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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
        async with transaction(self._engine) as s:
            row = (
                (await s.execute(select(porch_pipelines).where(_p.name == name)))
                .mappings()
                .one_or_none()
            )
        if row is None:
            raise PipelineNotFound(name)
        return _pipeline(row)

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
        statement = (
            select(_t.id, _t.description, _p.name)
            .select_from(porch_tokens.outerjoin(porch_pipelines, _t.pipeline_id == _p.id))
            .where(_t.token_hash == hashed, _t.revoked_at.is_(None))
        )
        async with transaction(self._engine) as s:
            row = (await s.execute(statement)).one_or_none()
        return None if row is None else TokenGrant(row.id, row.description, row.name)

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
        return int(result.rowcount)
