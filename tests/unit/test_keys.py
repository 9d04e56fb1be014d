"""Definition keys: key order irrelevant; types and values relevant; npg_porch's hash."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.pipelines.keys import (
    JobKey,
    KeyPolicy,
    KeyScope,
    canonical_json,
    definition_key,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=4), json_values, max_size=6))
def test_key_order_is_irrelevant(document: dict[str, Any]) -> None:
    reversed_order = dict(reversed(list(document.items())))
    assert definition_key(reversed_order) == definition_key(document)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"x": 1}, {"x": "1"}),
        ({"x": 1}, {"x": 1.0}),
        ({"x": 1}, {"x": True}),
        ({"x": None}, {}),
        ({"x": [1, 2]}, {"x": [2, 1]}),
        ({"x": 1}, {"x": 2}),
        ({"x": {"y": 1}}, {"x.y": 1}),
    ],
)
def test_types_and_values_are_relevant(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert definition_key(a) != definition_key(b)


def test_the_canonical_form_is_npg_porchs() -> None:
    # ujson.dumps(..., sort_keys=True): compact, sorted, "/" escaped, non-ASCII as \\u
    document = {"sample": "Valé", "id_run": 409, "path": "/a/b", "nested": {"b": 1, "a": [1.5]}}
    text = '{"id_run":409,"nested":{"a":[1.5],"b":1},"path":"\\/a\\/b","sample":"Val\\u00e9"}'
    assert canonical_json(document) == text
    assert definition_key(document) == hashlib.sha256(text.encode()).hexdigest()


def test_not_json_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        canonical_json({"x": float("nan")})
    with pytest.raises(InvalidInput):
        canonical_json({"x": object()})


def test_the_policy_picks_key_and_scope() -> None:
    policy = KeyPolicy(forever_namespaces=frozenset({"porchish"}))
    assert policy.key_for(namespace=None, given=None, scope=None) is None
    assert policy.key_for(namespace=None, given="k", scope=None) == JobKey("default", "k")
    assert policy.key_for(namespace="porchish", given="k", scope=None) == JobKey(
        "porchish", "k", KeyScope.FOREVER
    )
    assert policy.key_for(namespace="porchish", given="k", scope=KeyScope.ACTIVE) == JobKey(
        "porchish", "k", KeyScope.ACTIVE
    )
    derived = policy.key_for(namespace="n", given=None, scope=None, definition=[1], derive=True)
    assert derived == JobKey("n", definition_key([1]))
    with pytest.raises(InvalidInput, match="key"):
        policy.key_for(namespace="n", given=None, scope=None)
    with pytest.raises(InvalidInput, match="key"):
        JobKey("n", "")
    with pytest.raises(InvalidInput, match="namespace"):
        policy.key_for(namespace="porch/align", given="k", scope=None)
