"""Accounts (AUTH=1: POST /user, /token, /login), who am I, where to authenticate, and the
internal status route of a remote worker API."""

from __future__ import annotations

import hmac
from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.user_jobs import ping
from domain.accounts.model import CreateAccount, Login
from domain.accounts.profile import GetProfile, UpdateProfile
from domain.errors import InvalidInput
from domain.userjobs.use_cases import ApplyUserStatus
from domain.workers import Principal
from entrypoints.http.auth import AccessInfo, InternalCaller
from entrypoints.http.user.ioc import MaybePrincipal
from entrypoints.http.user.settings import UserSettings
from entrypoints.http.user.wire import JobStatusIn, ProfileIn, UserOut, to_update, user_out
from entrypoints.settings import Settings


async def _email(request: Request[Any, Any, Any]) -> str | None:
    """POST /user's optional `email` form field (empty: none)."""
    value = (await request.form()).get("email")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("email: expected a text form field")
    return value.strip() or None


async def _form(request: Request[Any, Any, Any]) -> tuple[str, str, list[str]]:
    form = await request.form()
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not username:
        raise InvalidInput("username: required (form field)")
    if not isinstance(password, str) or not password:
        raise InvalidInput("password: required (form field)")
    given = form.getall("groups") if "groups" in form else []
    groups = [
        g.strip()
        for value in given
        if isinstance(value, str)
        for g in value.split(",")
        if g.strip()
    ]
    return username, password, groups


def _require_auth(settings: UserSettings) -> None:
    if not settings.auth:
        raise NotFoundException("accounts are served only with AUTH=1")


def _internal(request: Request[Any, Any, Any], settings: Settings) -> bool:
    given, expected = request.headers.get("x-api-key"), settings.internal_api_key_secret
    return bool(given and expected and hmac.compare_digest(given.encode(), expected.encode()))


class AccountsController(Controller):
    tags = ["user: accounts"]

    @post(
        "/user",
        status_code=HTTP_201_CREATED,
        summary="Create an account (form: username, password, groups, email; AUTH=1)",
    )
    async def create_user(
        self,
        request: Request[Any, Any, Any],
        create: FromDishka[CreateAccount],
        caller: FromDishka[MaybePrincipal],
        user_settings: FromDishka[UserSettings],
        settings: FromDishka[Settings],
    ) -> dict[str, Any]:
        _require_auth(user_settings)
        username, password, groups = await _form(request)
        made = await create(
            username,
            password,
            frozenset(groups),
            caller=caller.principal,
            internal=_internal(request, settings),
            email=await _email(request),
        )
        return {"username": username, "groups": sorted(made)}

    @post("/token", status_code=HTTP_200_OK, summary="An id token for a username and password")
    async def token(
        self,
        request: Request[Any, Any, Any],
        login: FromDishka[Login],
        user_settings: FromDishka[UserSettings],
    ) -> dict[str, Any]:
        _require_auth(user_settings)
        username, password, _ = await _form(request)
        issued = await login(username, password)
        return {
            "id_token": issued.token,
            "access_token": issued.token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
        }

    @post("/login", status_code=HTTP_200_OK, summary="Log in: an httponly cookie the API accepts")
    async def login(
        self,
        request: Request[Any, Any, Any],
        login: FromDishka[Login],
        user_settings: FromDishka[UserSettings],
    ) -> Response[dict[str, Any]]:
        _require_auth(user_settings)
        username, password, _ = await _form(request)
        issued = await login(username, password)
        cookie = Cookie(
            key=user_settings.cookie_name,
            value=issued.token,
            max_age=issued.expires_in,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        body = {"username": username, "expires_in": issued.expires_in}
        return Response(body, cookies=[cookie])

    @get(
        "/user",
        summary="Who you are; for users, your e-mail, webhook and webhook secret",
        security=[{"BearerToken": []}],
    )
    async def me(
        self, principal: FromDishka[Principal], profile: FromDishka[GetProfile]
    ) -> UserOut:
        return user_out(principal, await profile(principal))

    @put(
        "/user",
        status_code=HTTP_200_OK,
        summary="Set your e-mail and webhook (null clears); new_webhook_secret: true rotates it",
        security=[{"BearerToken": []}],
    )
    async def update_me(
        self,
        data: JSONBody[ProfileIn],
        principal: FromDishka[Principal],
        update: FromDishka[UpdateProfile],
    ) -> UserOut:
        return user_out(principal, await update(principal, to_update(data)))

    @get("/access_info", summary="Where users and workers authenticate")
    async def access_info(self, info: FromDishka[AccessInfo]) -> dict[str, Any]:
        return info.document

    @get("/health", summary="Liveness")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", summary="Readiness: the database answers (503 otherwise)")
    async def ready(self, engine: FromDishka[AsyncEngine]) -> dict[str, str]:
        await ping(engine)
        return {"status": "ready"}


class UserInternalController(Controller):
    tags = ["internal"]
    security = [{"ApiKey": []}]

    @put("/_job_status", status_code=HTTP_200_OK, summary="Status of a job (remote worker API)")
    async def job_status(
        self,
        data: JSONBody[JobStatusIn],
        apply: FromDishka[ApplyUserStatus],
        _: FromDishka[InternalCaller],
    ) -> dict[str, Any]:
        job = await apply(data.status, data.runtime_details or None, user_job_id=data.job_id)
        return {"job_id": data.job_id, "changed": job is not None}
