"""Retrying with exponential backoff and jitter, for as long as the caller has patience."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.runs.ports import ApiUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


def backoff(attempt: int, first: float = 0.5, cap: float = 30.0) -> float:
    """Exponential with jitter: 0.5, 1, 2, ... seconds, at most `cap`."""
    delay: float = min(cap, first * 2**attempt)
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not secrets)


async def patiently(
    call: Callable[[], Awaitable[T]], patience: float, what: str, cap: float = 5.0
) -> T:
    """Retry `call` on ApiUnavailable with backoff (at most `cap` s apart) for up to
    `patience` seconds."""
    deadline = time.monotonic() + patience
    attempt = 0
    while True:
        try:
            return await call()
        except ApiUnavailable as exc:
            delay = backoff(attempt, cap=cap)
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s: %s; retrying in %.1f s", what, exc, delay)
            await asyncio.sleep(delay)
            attempt += 1
