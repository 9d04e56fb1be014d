"""Rounds of a background loop, their failures logged once per streak: a warning when a loop
starts failing, a line when it works again, nothing for a database outage (the store logs
each outage once), a line when a scheduler loses its lead, a traceback for a bug. Used by
the scheduler and the user side's loop."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from domain.errors import DomainError, LostLeadership, StoreUnavailable


class Streaks:
    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._failing: set[str] = set()

    async def run(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        """One round of the loop `name`; its failure is logged, never raised."""
        try:
            await body()
        except LostLeadership as exc:  # the scheduler's: it stands by, nothing failed
            self._log.info("%s: stopped, %s", name, exc)
            return
        except StoreUnavailable:
            return
        except DomainError as exc:
            if name not in self._failing:
                self._log.warning("%s fails: %s (logged once until it recovers)", name, exc)
            self._failing.add(name)
            return
        except Exception:
            self._log.exception("%s round crashed", name)
            return
        if name in self._failing:
            self._failing.discard(name)
            self._log.info("%s works again", name)
