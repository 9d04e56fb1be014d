"""Who is calling: a verified principal and what it may do."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import Forbidden
from domain.jobs import Environment

WORKERS_GROUP = "workers"
CLOUD_GROUP = "cloud"


@dataclass(frozen=True, slots=True)
class Principal:
    """The identity a verified token speaks for."""

    username: str
    groups: frozenset[str] = frozenset()

    @property
    def environment(self) -> Environment:
        return Environment.CLOUD if CLOUD_GROUP in self.groups else Environment.LOCAL

    def require_worker(self) -> str:
        """The worker identity, or Forbidden when not in the `workers` group."""
        if WORKERS_GROUP not in self.groups:
            raise Forbidden(f"user {self.username!r} is not in the {WORKERS_GROUP!r} group")
        return self.username
