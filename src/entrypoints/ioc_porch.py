"""The tracker's part of the core wiring: its stores (on the queue's database) and use cases."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.porch import SqlPipelineStore
from adapters.sql.porch_postgres import PostgresTaskStore
from adapters.sql.porch_tasks import SqlTaskStore
from adapters.sql.postgres import PostgresJobStore
from domain.pipelines.operations import OperatorView, SweepTaskLeases
from domain.pipelines.pipelines_uc import (
    AddPipeline,
    GetPipeline,
    ListPipelines,
    MintAdminToken,
    MintToken,
    PorchAuth,
    RevokeTokens,
)
from domain.pipelines.ports import PipelineStore, TaskStore
from domain.pipelines.tasks_uc import (
    AddTask,
    ClaimTasks,
    GetTaskHistory,
    ListTasks,
    UpdateTask,
)
from domain.ports import JobStore

PORCH_USE_CASES = (
    PorchAuth,
    AddPipeline,
    GetPipeline,
    ListPipelines,
    MintToken,
    MintAdminToken,
    RevokeTokens,
    AddTask,
    UpdateTask,
    ClaimTasks,
    ListTasks,
    GetTaskHistory,
    OperatorView,
    SweepTaskLeases,
)


class PorchStoreProvider(Provider):
    scope = Scope.APP

    @provide
    def pipelines(self, engine: AsyncEngine) -> PipelineStore:
        return SqlPipelineStore(engine)

    @provide
    def tasks(self, engine: AsyncEngine, store: JobStore) -> TaskStore:
        if isinstance(store, PostgresJobStore):
            return PostgresTaskStore(engine, store)  # its claim on the hot path's pool
        return SqlTaskStore(engine)


def porch_use_case_provider() -> Provider:
    provider = Provider(scope=Scope.APP)
    for use_case in PORCH_USE_CASES:
        provider.provide(use_case)
    return provider
