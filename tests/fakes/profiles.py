"""An in-memory Profiles port (the SQL one is in adapters.sql.user_profiles)."""

from __future__ import annotations

from domain.accounts.profile import Profile


class InMemoryProfiles:
    def __init__(self) -> None:
        self.rows: dict[str, Profile] = {}

    async def ensure(self, username: str, secret: str) -> Profile:
        return self.rows.setdefault(username, Profile(username, secret))

    async def save(self, profile: Profile) -> None:
        self.rows[profile.username] = profile
