"""The Profiles port on SQL (the user side's database): one row per user.

`profile_on(tx, username)` reads on the caller's own transaction, so the notifications of a
status change are addressed from the profile as it is when the change commits."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.engine import guarded_transaction
from adapters.sql.user_tables import user_profiles
from domain.accounts.profile import Profile


def _profile(row: Mapping[Any, Any]) -> Profile:
    return Profile(
        username=row["username"],
        webhook_secret=row["webhook_secret"],
        email=row["email"],
        webhook_url=row["webhook_url"],
    )


async def profile_on(tx: AsyncConnection, username: str) -> Profile | None:
    return (await profiles_on(tx, {username})).get(username)


async def profiles_on(tx: AsyncConnection, usernames: Collection[str]) -> dict[str, Profile]:
    """The profiles of those of `usernames` that have one, in one statement."""
    statement = select(user_profiles).where(user_profiles.c.username.in_(list(usernames)))
    rows = (await tx.execute(statement)).mappings()
    return {row["username"]: _profile(row) for row in rows}


class SqlProfiles:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def _tx(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return guarded_transaction(self._engine)

    def _insert(self) -> Any:
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(user_profiles)
        return sqlite.insert(user_profiles)

    async def ensure(self, username: str, secret: str) -> Profile:
        """A read; when there is no row, INSERT ... ON CONFLICT DO NOTHING and read again:
        two first uses at once agree on one secret."""
        async with self._tx() as c:
            found = await profile_on(c, username)
        if found is not None:
            return found
        row = {"username": username, "webhook_secret": secret, "updated_at": datetime.now(UTC)}
        async with self._tx() as c:
            await c.execute(self._insert().values(row).on_conflict_do_nothing())
            made = await profile_on(c, username)
        assert made is not None
        return made

    async def save(self, profile: Profile) -> None:
        """INSERT ... ON CONFLICT DO UPDATE: the user's row, made or replaced."""
        values = {
            "email": profile.email,
            "webhook_url": profile.webhook_url,
            "webhook_secret": profile.webhook_secret,
            "updated_at": datetime.now(UTC),
        }
        statement = (
            self._insert()
            .values(username=profile.username, **values)
            .on_conflict_do_update(index_elements=[user_profiles.c.username], set_=values)
        )
        async with self._tx() as c:
            await c.execute(statement)
