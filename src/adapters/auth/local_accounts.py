"""Accounts of the embedded default: a user table with argon2 hashes, tokens of the local
issuer. Hashing is slow on purpose: it runs in a thread."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.local import LocalIssuer
from adapters.sql.engine import transaction
from adapters.sql.user_tables import users
from domain.accounts.model import AccountExists, IssuedToken
from domain.errors import NotAuthenticated, Unavailable

WRONG = "wrong username or password"


class LocalAccounts:
    def __init__(self, engine: AsyncEngine, issuer: LocalIssuer, token_ttl: int) -> None:
        self._engine = engine
        self._issuer = issuer
        self._ttl = token_ttl
        self._hasher = PasswordHasher()
        # Verified against when the user does not exist, so both answers take as long.
        self._decoy = self._hasher.hash("decoy password")

    async def create(
        self, username: str, password: str, groups: frozenset[str], email: str | None = None
    ) -> None:
        """`email` is kept in the user's profile (`adapters.sql.user_profiles`), beside."""
        digest = await asyncio.to_thread(self._hasher.hash, password)
        row = {
            "username": username,
            "password_hash": digest,
            "groups": sorted(groups),
            "created_at": datetime.now(UTC),
        }
        try:
            async with transaction(self._engine) as c:
                await c.execute(insert(users).values(row))
        except IntegrityError:
            raise AccountExists(username) from None
        except (OperationalError, InterfaceError, OSError) as exc:
            raise Unavailable(f"database unavailable: {type(exc).__name__}") from exc

    async def set_email(self, username: str, email: str | None) -> None:
        """Nothing: the user table keeps no address (the profile is the only copy)."""

    async def login(self, username: str, password: str) -> IssuedToken:
        try:
            async with self._engine.connect() as c:
                row = (
                    await c.execute(select(users).where(users.c.username == username))
                ).one_or_none()
        except (OperationalError, InterfaceError, OSError) as exc:
            raise Unavailable(f"database unavailable: {type(exc).__name__}") from exc
        digest = row.password_hash if row else self._decoy
        if not await asyncio.to_thread(self._verify, digest, password) or row is None:
            raise NotAuthenticated(WRONG)
        token = await asyncio.to_thread(self._issuer.mint, username, row.groups, self._ttl)
        return IssuedToken(token, self._ttl)

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return self._hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False
