"""The composition root of the core: settings -> adapters -> use cases, chosen by plain `if`s
on settings. No web framework here: the HTTP apps add their own providers
(`entrypoints.http.ioc`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
from dishka import AsyncContainer, Provider, Scope, make_async_container, provide
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.local import LocalIssuer
from adapters.auth.verifier import JwksTokenVerifier, cognito_verifier
from adapters.clock import SystemClock
from adapters.files.local import LocalFileStore
from adapters.files.s3 import S3FileStore, make_s3_client
from adapters.sql.engine import create_engine
from adapters.sql.events import SqlEventLog, SqlHealth
from adapters.sql.outbox import SqlOutbox
from adapters.sql.postgres import postgres_store
from adapters.sql.stats import SqlQueueStats
from adapters.sql.store import SqlJobStore
from adapters.sql.url import async_url, is_sqlite
from adapters.userapi.client import UserApiStatusSink
from adapters.userapi.http11 import Http11Origin
from adapters.userapi.inprocess import InProcessStatusSink
from domain.pipelines.keys import KeyPolicy
from domain.policy import QueuePolicy
from domain.ports import (
    Clock,
    EventLog,
    FileStore,
    Health,
    JobStore,
    Outbox,
    StatusSink,
    TokenVerifier,
)
from domain.stats import QueueStats
from domain.use_cases.files import DownloadFile, DownloadRequest, UploadFile, UploadRequest
from domain.use_cases.forwarding import ForwardUpdates
from domain.use_cases.leases import SweepLeases
from domain.use_cases.pull import PullJobs
from domain.use_cases.report import JobStatus, ReportStatus
from domain.use_cases.rerun import JobAttempts, RerunJob
from domain.use_cases.submit import SubmitJob
from domain.userjobs.use_cases import ApplyUserStatus
from entrypoints.ioc_porch import PorchStoreProvider, porch_use_case_provider
from entrypoints.settings import Settings
from entrypoints.user_ioc import UserCoreProvider


class SettingsProvider(Provider):
    scope = Scope.APP

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings

    @provide
    def settings(self) -> Settings:
        return self._settings

    @provide
    def policy(self, s: Settings) -> QueuePolicy:
        return QueuePolicy(
            max_retries=s.max_retries,
            lease_timeout=timedelta(seconds=s.timeout_failure),
            retry_different=s.retry_different,
            max_pull=s.max_pull,
        )

    @provide
    def key_policy(self, s: Settings) -> KeyPolicy:
        return KeyPolicy(forever_namespaces=s.key_forever_namespaces)

    @provide
    def clock(self) -> Clock:
        return SystemClock()

    @provide
    async def http_client(self) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
            yield client


_COLD_PATH_CONNECTIONS = 4


class SqlProvider(Provider):
    scope = Scope.APP

    @provide
    async def engine(self, s: Settings) -> AsyncIterator[AsyncEngine]:
        url = async_url(s.queue_db_url, s.queue_db_secret)
        # On PostgreSQL the hot path has its own pool (see `store`); SQLAlchemy serves the
        # rest (scheduler, files, readiness), which needs few connections.
        size = s.pool_size if is_sqlite(url) else min(s.pool_size, _COLD_PATH_CONNECTIONS)
        engine = create_engine(
            url,
            pool_size=size,
            server_settings={"application_name": s.db_application_name},
            variable=s.db_url_variable,
        )
        yield engine
        await engine.dispose()

    @provide
    def stats(self, engine: AsyncEngine) -> QueueStats:
        return SqlQueueStats(engine)

    @provide
    async def store(self, engine: AsyncEngine, s: Settings) -> AsyncIterator[JobStore]:
        with_outbox = s.userfacing_api_url is not None or s.in_process_status
        if engine.dialect.name != "postgresql":
            yield SqlJobStore(engine, outbox=with_outbox)
            return
        async with postgres_store(
            engine,
            size=s.pool_size,
            outbox=with_outbox,
            server_settings={"application_name": s.db_application_name},
        ) as store:
            yield store

    @provide
    def events(self, engine: AsyncEngine) -> EventLog:
        return SqlEventLog(engine)

    @provide
    def outbox(self, engine: AsyncEngine) -> Outbox:
        return SqlOutbox(engine)

    @provide
    def health(self, engine: AsyncEngine) -> Health:
        return SqlHealth(engine)


class FilesProvider(Provider):
    scope = Scope.APP

    @provide
    def files(self, s: Settings) -> FileStore:
        if s.filesystem == "s3":
            assert s.s3_bucket is not None  # checked by load_settings
            return S3FileStore(
                make_s3_client(s.s3_region, s.s3_endpoint_url),
                s.s3_bucket,
                upload_ttl_seconds=s.upload_url_ttl,
                download_ttl_seconds=s.upload_url_ttl,
                max_upload_bytes=s.max_upload_bytes,
            )
        return LocalFileStore(s.user_data_root_path)


class AuthProvider(Provider):
    scope = Scope.APP

    @provide
    def local_issuer(self, s: Settings) -> LocalIssuer:
        return LocalIssuer(s.data_dir)

    @provide
    def verifier(self, s: Settings, http: httpx.AsyncClient, local: LocalIssuer) -> TokenVerifier:
        if s.auth_mode == "cognito":
            assert s.cognito_region
            assert s.cognito_user_pool_id
            assert s.cognito_client_id
            return cognito_verifier(
                s.cognito_region,
                s.cognito_user_pool_id,
                s.cognito_client_id,
                http,
                endpoint_url=s.cognito_endpoint_url,
            )
        if s.auth_mode == "oidc":
            assert s.jwt_jwks_url
            return JwksTokenVerifier(
                http,
                jwks_url=s.jwt_jwks_url,
                issuer=s.jwt_issuer,
                audience=s.jwt_audience,
                groups_claim=s.jwt_groups_claim,
                username_claim=s.jwt_username_claim,
            )
        return local.verifier()


class SinkProvider(Provider):
    scope = Scope.APP

    @provide
    async def sink(self, s: Settings, apply: ApplyUserStatus) -> AsyncIterator[StatusSink]:
        if s.in_process_status:
            yield InProcessStatusSink(apply)
            return
        if s.userfacing_api_url is None or s.internal_api_key_secret is None:
            raise LookupError("no USERFACING_API_URL: status updates are only recorded")
        # Its own kept-alive connections, one per job in delivery at once.
        origin = Http11Origin(s.userfacing_api_url, s.forward_concurrency)
        try:
            yield UserApiStatusSink(
                origin, s.userfacing_api_url, s.internal_api_key_secret, s.forward_timeout
            )
        finally:
            await origin.aclose()


def _forward(store: JobStore, outbox: Outbox, clock: Clock, sink: StatusSink) -> ForwardUpdates:
    """One delivery pass on demand (tests, tools); the scheduler builds its own, fenced."""
    return ForwardUpdates(store, outbox, clock, sink)


def use_case_provider() -> Provider:
    provider = Provider(scope=Scope.APP)
    provider.provide(_forward, provides=ForwardUpdates)
    for use_case in (
        SubmitJob,
        RerunJob,
        JobAttempts,
        PullJobs,
        ReportStatus,
        JobStatus,
        SweepLeases,
        DownloadRequest,
        DownloadFile,
        UploadRequest,
        UploadFile,
    ):
        provider.provide(use_case)
    return provider


def core_providers(settings: Settings) -> list[Provider]:
    """What every program needs; each program adds its own (the HTTP apps:
    `entrypoints.http.ioc`), so the scheduler carries no web framework."""
    return [
        SettingsProvider(settings),
        SqlProvider(),
        FilesProvider(),
        AuthProvider(),
        SinkProvider(),
        UserCoreProvider(),
        use_case_provider(),
        PorchStoreProvider(),
        porch_use_case_provider(),
    ]


def make_container(settings: Settings, *extra: Provider) -> AsyncContainer:
    """The core container (scheduler, CLI); `extra` providers may override."""
    return make_async_container(*core_providers(settings), *extra)
