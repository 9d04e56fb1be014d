"""The user app's providers, on top of the core ones (entrypoints.ioc)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from dishka import Provider, Scope, provide
from litestar import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.cognito_accounts import CognitoAccounts, make_cognito_client
from adapters.auth.local import LocalIssuer
from adapters.auth.local_accounts import LocalAccounts
from adapters.catalogue.yaml_file import LocalSource, S3Source, YamlCatalogue
from adapters.files.s3 import make_s3_client
from adapters.files.user_local import LocalUserFiles
from adapters.files.user_s3 import S3UserFiles
from adapters.sql.user_jobs import SqlUserJobStore
from adapters.sql.user_profiles import SqlProfiles
from adapters.workerapi.client import HttpQueueClient
from domain.accounts.model import Accounts, CreateAccount, Login
from domain.accounts.profile import GetProfile, Profiles, UpdateProfile
from domain.catalogue.ports import CatalogueSource
from domain.errors import NotAuthenticated
from domain.ports import Clock, TokenVerifier
from domain.userfiles import use_cases as files
from domain.userfiles.ports import UserFileStore
from domain.userjobs.notices import Notifications
from domain.userjobs.ports import UserJobStore
from domain.userjobs.submission import DeliverSubmissions, QueueClient, SubmissionOutbox
from domain.userjobs.use_cases import DeleteUserJob, GetUserJob, ListUserJobs, SubmitUserJob
from domain.workers import Principal
from entrypoints.http.auth import bearer_token
from entrypoints.http.user.settings import UserSettings
from entrypoints.settings import Settings


@dataclass(frozen=True, slots=True)
class MaybePrincipal:
    """The caller's principal when a valid token came with the request, else None."""

    principal: Principal | None


def token_of(request: Request[Any, Any, Any], cookie: str) -> str:
    """The bearer token, or the httponly cookie that POST /login set."""
    if request.headers.get("authorization"):
        return bearer_token(request)
    value = request.cookies.get(cookie)
    if not value:
        raise NotAuthenticated("missing bearer token (Authorization: Bearer <JWT>) or cookie")
    return value


def catalogue_source(us: UserSettings, s: Settings) -> LocalSource | S3Source | None:
    path = us.application_config_file
    if path is None:
        return None
    if path.startswith("s3://"):
        return S3Source(path, make_s3_client(s.s3_region, s.s3_endpoint_url))
    return LocalSource(path)


class UserProvider(Provider):
    scope = Scope.APP

    def __init__(self, settings: UserSettings) -> None:
        super().__init__()
        self._settings = settings

    @provide
    def user_settings(self) -> UserSettings:
        return self._settings

    @provide
    def files(self, s: Settings) -> UserFileStore:
        if s.filesystem == "s3":
            assert s.s3_bucket is not None  # checked by load_settings
            return S3UserFiles(
                make_s3_client(s.s3_region, s.s3_endpoint_url),
                s.s3_bucket,
                ttl_seconds=s.upload_url_ttl,
                max_upload_bytes=s.max_upload_bytes,
            )
        return LocalUserFiles(s.user_data_root_path)

    @provide
    def catalogue(self, us: UserSettings, s: Settings) -> CatalogueSource:
        return YamlCatalogue(catalogue_source(us, s))

    @provide
    def profiles(self, engine: AsyncEngine) -> Profiles:
        return SqlProfiles(engine)

    @provide
    def accounts(
        self, engine: AsyncEngine, local: LocalIssuer, s: Settings, us: UserSettings
    ) -> Accounts:
        if s.auth_mode == "cognito":
            assert s.cognito_region
            assert s.cognito_user_pool_id
            assert s.cognito_client_id
            client = make_cognito_client(s.cognito_region, s.cognito_endpoint_url)
            return CognitoAccounts(
                client, s.cognito_user_pool_id, s.cognito_client_id, s.cognito_secret
            )
        return LocalAccounts(engine, local, us.user_token_ttl)

    @provide
    def update_profile(
        self, profiles: Profiles, accounts: Accounts, us: UserSettings
    ) -> UpdateProfile:
        # With AUTH=0 the accounts are not ours: PUT /user changes the profile only.
        return UpdateProfile(profiles, accounts if us.auth else None)

    @provide(scope=Scope.REQUEST, override=True)
    async def principal(
        self,
        request: Request,  # type: ignore[type-arg]
        verifier: TokenVerifier,
        us: UserSettings,
    ) -> Principal:
        return await verifier.verify(token_of(request, us.cookie_name))

    @provide(scope=Scope.REQUEST)
    async def maybe_principal(
        self,
        request: Request,  # type: ignore[type-arg]
        verifier: TokenVerifier,
        us: UserSettings,
    ) -> MaybePrincipal:
        try:
            return MaybePrincipal(await verifier.verify(token_of(request, us.cookie_name)))
        except NotAuthenticated:
            return MaybePrincipal(None)


def user_use_cases() -> Provider:
    provider = Provider(scope=Scope.APP)
    for use_case in (
        SubmitUserJob,
        GetUserJob,
        ListUserJobs,
        DeleteUserJob,
        CreateAccount,
        Login,
        GetProfile,
        files.ListFiles,
        files.UploadFile,
        files.UploadRequest,
        files.MakeFolder,
        files.RenameFile,
        files.DeleteFile,
        files.DownloadRequest,
        files.Download,
    ):
        provider.provide(use_case)
    return provider


class RemoteQueueProvider(Provider):
    """The split topology: jobs go to a remote worker API through the user outbox."""

    scope = Scope.APP

    def __init__(self, scope_id: str) -> None:
        super().__init__()
        self._scope_id = scope_id

    @provide
    def sql_user_jobs(self, engine: AsyncEngine, notifications: Notifications) -> SqlUserJobStore:
        return SqlUserJobStore(engine, notifications, remote_scope=self._scope_id)

    @provide(override=True)
    def user_jobs(self, store: SqlUserJobStore) -> UserJobStore:
        return store

    @provide
    def outbox(self, store: SqlUserJobStore) -> SubmissionOutbox:
        return store

    @provide
    def queue(self, us: UserSettings, s: Settings, http: httpx.AsyncClient) -> QueueClient:
        assert us.workerfacing_api_url is not None
        assert s.internal_api_key_secret is not None
        return HttpQueueClient(http, us.workerfacing_api_url, s.internal_api_key_secret)

    @provide
    def deliver(
        self, outbox: SubmissionOutbox, queue: QueueClient, clock: Clock
    ) -> DeliverSubmissions:
        return DeliverSubmissions(outbox, queue, clock)
