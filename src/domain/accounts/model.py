"""Accounts (AUTH=1): who may create which account, and logging in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.accounts.identity import (
    KNOWN_GROUPS,
    PRIVILEGED_GROUPS,
    USERS_GROUP,
    check_username,
    is_admin,
)
from domain.errors import Conflict, Forbidden, InvalidInput
from domain.workers import Principal

MIN_PASSWORD = 8


class AccountExists(Conflict):
    def __init__(self, username: str) -> None:
        super().__init__(f"username {username!r} is taken")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int  # seconds


class Accounts(Protocol):
    """The identity provider: the local user table and issuer, or Cognito."""

    async def create(self, username: str, password: str, groups: frozenset[str]) -> None:
        """AccountExists when the name is taken."""
        ...

    async def login(self, username: str, password: str) -> IssuedToken:
        """An id token; NotAuthenticated for a wrong name or password (which, not said)."""
        ...


class CreateAccount:
    """Anyone may create a `users` account; only an admin (a token in the `admin` group, or
    the internal api key) may create `workers`, `cloud` or `admin` accounts."""

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def __call__(
        self,
        username: str,
        password: str,
        groups: frozenset[str],
        *,
        caller: Principal | None,
        internal: bool,
    ) -> frozenset[str]:
        check_username(username)
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"password: at least {MIN_PASSWORD} characters")
        groups = groups or frozenset({USERS_GROUP})
        unknown = groups - KNOWN_GROUPS
        if unknown:
            raise InvalidInput(
                f"groups: unknown group {sorted(unknown)[0]!r} (known: {sorted(KNOWN_GROUPS)})"
            )
        if groups & PRIVILEGED_GROUPS and not (internal or is_admin(caller)):
            raise Forbidden("groups: only an admin may create workers, cloud or admin accounts")
        await self._accounts.create(username, password, groups)
        return groups


class Login:
    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def __call__(self, username: str, password: str) -> IssuedToken:
        return await self._accounts.login(username, password)
