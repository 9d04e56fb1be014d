"""npg_porch tokens: 32 hex characters, bearer, stored as their sha256; an admin token
manages pipelines, a pipeline's token acts on that pipeline only."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from domain.errors import Forbidden, NotAuthenticated

_TOKEN = re.compile(r"[0-9a-fA-F]{32}")


def new_token() -> str:
    return secrets.token_hex(16)


def token_hash(token: str) -> str:
    """What the store keeps and looks up; NotAuthenticated for what cannot be a token."""
    if not _TOKEN.fullmatch(token):
        raise NotAuthenticated("a porch token is 32 hexadecimal characters")
    return hashlib.sha256(token.lower().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a valid token may do."""

    id: int
    description: str
    pipeline: str | None  # None: an admin token

    @property
    def who(self) -> str:
        """How events name the token."""
        return f"{self.pipeline or 'admin'}:{self.description}#{self.id}"

    def require_admin(self) -> None:
        if self.pipeline is not None:
            raise Forbidden("an admin token is required")

    def require_pipeline(self, name: str) -> None:
        if self.pipeline is not None and self.pipeline != name:
            raise Forbidden(f"this token cannot be used for pipeline {name!r}")
