"""A user's notification profile: where to tell them of their jobs (an e-mail address, a
webhook for all their jobs) and the secret that signs their webhooks.

The profile is kept by the user side beside its jobs (one table, whatever the accounts'
backend: the local user table, Cognito, or token holders with AUTH=0). Its webhook secret
is made by the service the first time the profile is needed, and shown to its owner only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Protocol

from domain.accounts.identity import ADMIN_GROUP, USERS_GROUP, require_user
from domain.notify.model import Recipients, check_email, check_webhook_url, is_address
from domain.workers import Principal


def new_webhook_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Profile:
    username: str
    webhook_secret: str
    email: str | None = None
    webhook_url: str | None = None

    def recipients(self, job_webhook_url: str | None = None) -> Recipients:
        """Where a job of this user is told of: the profile's address (else the username,
        when it is one, as DECODE's accounts are); the job's webhook, else the user's;
        signed with the user's secret."""
        email = self.email or (self.username if is_address(self.username) else None)
        return Recipients(
            email=email,
            webhook_url=job_webhook_url or self.webhook_url,
            webhook_secret=self.webhook_secret,
        )


class Keep:
    """A field an update leaves as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = Keep()


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """PUT /user: each field given replaces the stored one (None clears it)."""

    email: str | Keep | None = KEEP
    webhook_url: str | Keep | None = KEEP
    new_webhook_secret: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.email, str):
            check_email(self.email)
        if isinstance(self.webhook_url, str):
            check_webhook_url(self.webhook_url)

    def applied(self, profile: Profile) -> Profile:
        return replace(
            profile,
            email=profile.email if isinstance(self.email, Keep) else self.email,
            webhook_url=(
                profile.webhook_url if isinstance(self.webhook_url, Keep) else self.webhook_url
            ),
            webhook_secret=(
                new_webhook_secret() if self.new_webhook_secret else profile.webhook_secret
            ),
        )


class AccountEmails(Protocol):
    """The identity provider's copy of a user's e-mail address: the part of the accounts
    port (`domain.accounts.model.Accounts`) that PUT /user drives."""

    async def set_email(self, username: str, email: str | None) -> None:
        """Make the provider's address `email` (None: remove it); nothing for a provider
        that keeps none. Unavailable when the provider is unreachable or refuses."""
        ...


class Profiles(Protocol):
    """The users' notification profiles (SQL: the user side's database)."""

    async def ensure(self, username: str, secret: str) -> Profile:
        """The user's profile; made first (with `secret`) when there is none yet."""
        ...

    async def save(self, profile: Profile) -> None:
        """Store the profile, replacing the user's."""
        ...


def has_profile(principal: Principal) -> bool:
    """Users (and admins) have a profile; workers and other token holders do not."""
    return bool(principal.groups & {USERS_GROUP, ADMIN_GROUP})


class GetProfile:
    """The caller's profile (made on first use, with a fresh secret); None for a token
    holder that is not a user."""

    def __init__(self, profiles: Profiles) -> None:
        self._profiles = profiles

    async def __call__(self, principal: Principal) -> Profile | None:
        if not has_profile(principal):
            return None
        return await self._profiles.ensure(require_user(principal), new_webhook_secret())


class UpdateProfile:
    """PUT /user. An e-mail address given goes to the identity provider first (`accounts`:
    the accounts this service keeps, None when it keeps none), then to the profile: when
    the provider fails, nothing has changed (Unavailable: a 503 the caller may retry)."""

    def __init__(self, profiles: Profiles, accounts: AccountEmails | None = None) -> None:
        self._profiles = profiles
        self._accounts = accounts

    async def __call__(self, principal: Principal, update: ProfileUpdate) -> Profile:
        username = require_user(principal)
        profile = update.applied(await self._profiles.ensure(username, new_webhook_secret()))
        if self._accounts is not None and not isinstance(update.email, Keep):
            # even when unchanged: a retry heals a profile whose save failed last time
            await self._accounts.set_email(username, profile.email)
        await self._profiles.save(profile)
        return profile


def recipients_of(
    username: str, profile: Profile | None, job_webhook_url: str | None
) -> Recipients:
    """Where a job of `username` is told of. Without a profile: by e-mail when the username
    is an address; the job's webhook signed with the service's default secret."""
    if profile is not None:
        return profile.recipients(job_webhook_url)
    email = username if is_address(username) else None
    return Recipients(email=email, webhook_url=job_webhook_url)
