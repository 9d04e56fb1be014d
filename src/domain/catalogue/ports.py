from __future__ import annotations

from typing import Protocol

from domain.catalogue.model import Catalogue


class CatalogueSource(Protocol):
    async def current(self) -> Catalogue:
        """The catalogue as it is now (reloaded when its file changed)."""
        ...
