"""Secrets: plain, JSON with a password, and Secrets Manager ARNs (moto over HTTP)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from adapters.secrets import resolve_secret
from tests.contract.s3_support import REGION, secrets_client


def test_plain_and_json_values() -> None:
    assert resolve_secret(None) is None
    assert resolve_secret("s3cr3t") == "s3cr3t"
    assert resolve_secret('{"username": "q", "password": "pw"}') == "pw"
    assert resolve_secret("{not json") == "{not json"
    with pytest.raises(ValueError, match="password"):
        resolve_secret('{"user": "q"}')


@pytest.mark.parametrize(
    ("stored", "expected"),
    [("plain-value", "plain-value"), (json.dumps({"password": "from-json"}), "from-json")],
)
def test_arns_are_fetched_from_secrets_manager(aws_env: str, stored: str, expected: str) -> None:
    client: Any = secrets_client(aws_env)
    arn = client.create_secret(Name=f"jobcloud/{uuid.uuid4().hex}", SecretString=stored)["ARN"]
    assert arn.startswith(f"arn:aws:secretsmanager:{REGION}:")
    assert resolve_secret(arn) == expected


def test_a_missing_secret_is_a_clear_error(aws_env: str) -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:nope-AbCdEf"
    with pytest.raises(ValueError, match="ResourceNotFound"):
        resolve_secret(arn)
