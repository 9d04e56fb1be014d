"""DECODE-style QUEUE_DB_URL values -> async SQLAlchemy URLs."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.engine import URL

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def async_url(url: str, secret: str | None = None) -> str:
    """`sqlite:///./q.db` -> `sqlite+aiosqlite:///./q.db`; `postgresql://u:{}@h/db` with the
    secret (URL-quoted) in the `{}` -> `postgresql+asyncpg://...`."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _DRIVERS:
        raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite or postgresql")
    if "{}" in rest:
        if not secret:
            raise ValueError("the database URL has a {} placeholder but no secret was given")
        rest = rest.replace("{}", quote(secret, safe=""))
    return f"{_DRIVERS[scheme.lower()]}://{rest}"


def libpq_url(url: URL) -> str:
    """The plain `postgresql://` form of an engine's URL, for asyncpg itself."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")
