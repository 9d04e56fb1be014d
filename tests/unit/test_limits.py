"""`domain.limits`: the bounds every store and the HTTP edge read, each naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import InvalidInput
from domain.jobs import Environment
from domain.limits import (
    GROUPS_MAX,
    JSON_DEPTH_MAX,
    check_document,
    check_offer,
    check_older_than,
    check_path,
)
from domain.matching import WorkerOffer


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def test_a_document_within_bounds_passes() -> None:
    check_document("job", {"a": [1, 2.5, None, True, "x"], "b": nested(JSON_DEPTH_MAX - 1)})
    check_document("job", {"big": 2**63 - 1, "small": -(2**63)})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"deep": nested(JSON_DEPTH_MAX + 1)},
            r"job\.deep\.k[.k]* is nested deeper than 32 levels",
        ),
        ({"n": 2**63}, "job.n must be between"),
        ({"n": -(2**63) - 1}, "job.n must be between"),
        ({"s": "a\x00"}, "job.s must not contain NUL"),
        ({"a\x00": 1}, "job key must not contain NUL"),
        ({"l": ["ok", "b\x00"]}, "job.l must not contain NUL"),
    ],
)
def test_a_document_beyond_bounds_is_refused_naming_the_field(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_document("job", document)


def test_paths_are_bounded_as_a_file_system_keeps_them() -> None:
    check_path("file_id", "/data/" + "a" * 255 + "/" + "é" * 127)
    for bad, message in [
        ("a/" + "b" * 256, "longer than 255 bytes"),
        ("é" * 128, "longer than 255 bytes"),  # 256 bytes in UTF-8
        ("a/" * 2049, "at most 4096 characters"),
        ("a\x00b", "NUL"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            check_path("file_id", bad)


def test_older_than_stays_a_date_any_database_keeps() -> None:
    assert check_older_than(2**31 - 1).days == 24855
    with pytest.raises(InvalidInput, match="older_than must be between 0 and 2147483647"):
        check_older_than(2**31)


def test_an_offer_with_too_many_groups_is_refused() -> None:
    groups = frozenset(f"g{i}" for i in range(GROUPS_MAX + 1))
    with pytest.raises(InvalidInput, match="groups"):
        check_offer(WorkerOffer("w", Environment.LOCAL, groups=groups), 1)
    check_offer(WorkerOffer("w", Environment.LOCAL, groups=frozenset(list(groups)[:-1])), 1)
