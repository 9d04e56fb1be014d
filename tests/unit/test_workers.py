"""The principal (domain/workers.py): who may act as a worker, and where it runs."""

from __future__ import annotations

import pytest

from domain.errors import Forbidden
from domain.jobs import Environment
from domain.workers import Principal


def test_a_member_of_workers_is_a_worker_named_by_its_username() -> None:
    assert Principal("gpu-1", frozenset({"workers"})).require_worker() == "gpu-1"


@pytest.mark.parametrize("groups", [set(), {"cloud"}, {"admins"}, {"worker"}, {"Workers"}])
def test_anyone_else_is_forbidden(groups: set[str]) -> None:
    with pytest.raises(Forbidden, match="'mallory'"):
        Principal("mallory", frozenset(groups)).require_worker()


def test_cloud_group_makes_a_cloud_worker_else_local() -> None:
    assert Principal("a", frozenset({"workers", "cloud"})).environment is Environment.CLOUD
    assert Principal("b", frozenset({"workers"})).environment is Environment.LOCAL
    assert Principal("c", frozenset({"workers", "cloudy"})).environment is Environment.LOCAL
