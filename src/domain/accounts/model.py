"""Accounts (AUTH=1): who may create which account, and logging in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from domain.accounts.identity import (
    KNOWN_GROUPS,
    PRIVILEGED_GROUPS,
    USERS_GROUP,
    check_username,
    is_admin,
)
from domain.accounts.profile import AccountEmails, Profiles, new_webhook_secret
from domain.errors import Conflict, Forbidden, InvalidInput
from domain.notify.model import check_email
from domain.workers import Principal

MIN_PASSWORD = 8


class AccountExists(Conflict):
    def __init__(self, username: str) -> None:
        super().__init__(f"username {username!r} is taken")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int  # seconds


class Accounts(AccountEmails, Protocol):
    """The identity provider: the local user table and issuer, or Cognito. Its `set_email`
    (from AccountEmails) keeps the provider's copy of a user's address in step with PUT /user.
    """

    async def create(
        self, username: str, password: str, groups: frozenset[str], email: str | None = None
    ) -> None:
        """AccountExists when the name is taken. `email` goes to an identity provider that
        keeps one (Cognito's `email` attribute); notifications read the user's Profile."""
        ...

    async def login(self, username: str, password: str) -> IssuedToken:
        """An id token; NotAuthenticated for a wrong name or password (which, not said)."""
        ...


class CreateAccount:
    """Anyone may create a `users` account; only an admin (a token in the `admin` group, or
    the internal api key) may create `workers`, `cloud` or `admin` accounts. An e-mail
    address given goes into the new user's profile (and to the identity provider)."""

    def __init__(self, accounts: Accounts, profiles: Profiles) -> None:
        self._accounts = accounts
        self._profiles = profiles

    async def __call__(
        self,
        username: str,
        password: str,
        groups: frozenset[str],
        *,
        caller: Principal | None,
        internal: bool,
        email: str | None = None,
    ) -> frozenset[str]:
        check_username(username)
        if email is not None:
            check_email(email)
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
        await self._accounts.create(username, password, groups, email)
        if email is not None:
            profile = await self._profiles.ensure(username, new_webhook_secret())
            await self._profiles.save(replace(profile, email=email))
        return groups


class Login:
    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def __call__(self, username: str, password: str) -> IssuedToken:
        return await self._accounts.login(username, password)
