"""Secrets: plain, JSON with a password, and Secrets Manager ARNs (moto over HTTP)."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

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
    with pytest.raises(ValueError, match="no such secret"):
        resolve_secret(arn)


def test_the_secrets_manager_endpoint_variable_is_honoured(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client: Any = secrets_client(aws_env)
    arn = client.create_secret(Name=f"jobcloud/{uuid.uuid4().hex}", SecretString="pw")["ARN"]
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws_env)
    assert resolve_secret(arn) == "pw"


def test_values_that_are_not_secret_arns_are_used_as_is() -> None:
    assert resolve_secret("arn:aws:ssm:eu-central-1:1:parameter/x") == (
        "arn:aws:ssm:eu-central-1:1:parameter/x"
    )
    with pytest.raises(ValueError, match="malformed"):
        resolve_secret("arn:aws:secretsmanager::123456789012:secret:x")


def test_a_json_secret_without_password_fetched_is_a_clear_error(aws_env: str) -> None:
    client: Any = secrets_client(aws_env)
    stored = json.dumps({"username": "queue"})
    arn = client.create_secret(Name=f"jobcloud/{uuid.uuid4().hex}", SecretString=stored)["ARN"]
    with pytest.raises(ValueError, match='without a string "password"'):
        resolve_secret(arn)


def test_an_unreachable_secrets_manager_is_a_clear_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"

    def factory(region: str) -> Any:
        return boto3.client(
            "secretsmanager",
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),
        )

    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:db-AbCdEf"
    with pytest.raises(ValueError, match="cannot reach Secrets Manager"):
        resolve_secret(arn, client_factory=factory)
