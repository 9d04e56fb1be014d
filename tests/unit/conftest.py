"""Fixtures of the unit tests: the in-memory reference store and a hand-moved clock."""

from __future__ import annotations

import pytest

from tests.fakes.clock import FakeClock
from tests.fakes.store import InMemoryJobStore


@pytest.fixture
def store() -> InMemoryJobStore:
    return InMemoryJobStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
