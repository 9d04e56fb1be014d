"""Accounts in a Cognito user pool (boto3 cognito-idp): admin-created users with a permanent
password, groups as Cognito groups, id tokens from USER_PASSWORD_AUTH. Calls run in a thread;
botocore errors become domain errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from domain.accounts.model import AccountExists, IssuedToken
from domain.errors import InvalidInput, NotAuthenticated, Unavailable

WRONG = "wrong username or password"


def make_cognito_client(region: str, endpoint_url: str | None = None) -> Any:
    return boto3.client(
        "cognito-idp",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3}),
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _email_attributes(email: str) -> list[dict[str, str]]:
    """The `email` attribute, as creation and PUT /user both set it (`email_verified` is
    left to the pool: jobcloud does not verify addresses)."""
    return [{"Name": "email", "Value": email}]


class CognitoAccounts:
    def __init__(
        self, client: Any, user_pool_id: str, client_id: str, client_secret: str | None = None
    ) -> None:
        self._client = client
        self._pool = user_pool_id
        self._client_id = client_id
        self._secret = client_secret

    async def create(
        self, username: str, password: str, groups: frozenset[str], email: str | None = None
    ) -> None:
        await self._call(self._create, username, password, groups, email)

    def _create(
        self, username: str, password: str, groups: frozenset[str], email: str | None
    ) -> None:
        attributes = {"UserAttributes": _email_attributes(email)} if email else {}
        try:
            self._client.admin_create_user(
                UserPoolId=self._pool, Username=username, MessageAction="SUPPRESS", **attributes
            )
        except ClientError as exc:
            if _code(exc) == "UsernameExistsException":
                raise AccountExists(username) from None
            raise
        try:
            self._client.admin_set_user_password(
                UserPoolId=self._pool, Username=username, Password=password, Permanent=True
            )
        except ClientError as exc:
            self._client.admin_delete_user(UserPoolId=self._pool, Username=username)
            if _code(exc) == "InvalidPasswordException":
                raise InvalidInput(f"password: {exc.response['Error'].get('Message')}") from None
            raise
        for group in sorted(groups):
            self._ensure_group(group)
            self._client.admin_add_user_to_group(
                UserPoolId=self._pool, Username=username, GroupName=group
            )

    async def set_email(self, username: str, email: str | None) -> None:
        """The user's `email` attribute becomes `email` (None: removed). A user not in the
        pool (deleted since its token was issued) is NotAuthenticated."""
        await self._call(self._set_email, username, email)

    def _set_email(self, username: str, email: str | None) -> None:
        try:
            if email is None:
                self._client.admin_delete_user_attributes(
                    UserPoolId=self._pool, Username=username, UserAttributeNames=["email"]
                )
            else:
                self._client.admin_update_user_attributes(
                    UserPoolId=self._pool,
                    Username=username,
                    UserAttributes=_email_attributes(email),
                )
        except ClientError as exc:
            if _code(exc) == "UserNotFoundException":
                raise NotAuthenticated(f"no user {username!r} in the user pool") from None
            raise

    def _ensure_group(self, group: str) -> None:
        try:
            self._client.create_group(UserPoolId=self._pool, GroupName=group)
        except ClientError as exc:
            if _code(exc) != "GroupExistsException":
                raise

    async def login(self, username: str, password: str) -> IssuedToken:
        result = await self._call(self._login, username, password)
        assert isinstance(result, IssuedToken)
        return result

    def _login(self, username: str, password: str) -> IssuedToken:
        parameters = {"USERNAME": username, "PASSWORD": password}
        if self._secret:
            parameters["SECRET_HASH"] = self._secret_hash(username)
        try:
            reply = self._client.initiate_auth(
                ClientId=self._client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters
            )
        except ClientError as exc:
            if _code(exc) in ("NotAuthorizedException", "UserNotFoundException"):
                raise NotAuthenticated(WRONG) from None
            raise
        result = reply.get("AuthenticationResult") or {}
        if "IdToken" not in result:
            raise NotAuthenticated(f"login needs a further step: {reply.get('ChallengeName')}")
        return IssuedToken(result["IdToken"], int(result.get("ExpiresIn", 3600)))

    def _secret_hash(self, username: str) -> str:
        assert self._secret is not None
        digest = hmac.new(
            self._secret.encode(), (username + self._client_id).encode(), hashlib.sha256
        ).digest()
        return base64.b64encode(digest).decode()

    async def _call(self, function: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(function, *args)
        except ClientError as exc:
            raise Unavailable(f"cognito refused: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"cognito unreachable: {type(exc).__name__}") from exc
