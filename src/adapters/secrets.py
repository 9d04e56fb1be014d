"""Secrets: an AWS Secrets Manager ARN is fetched, a JSON `{"password": ...}` yields its
password, anything else is the secret itself. Runs once, at start-up."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ARN_PREFIX = "arn:aws:secretsmanager:"

ClientFactory = Callable[[str], Any]


def _secretsmanager(region: str) -> Any:
    return boto3.client("secretsmanager", region_name=region)


def resolve_secret(
    value: str | None, *, client_factory: ClientFactory = _secretsmanager
) -> str | None:
    if value is None:
        return None
    if value.startswith(ARN_PREFIX):
        value = _fetch(value, client_factory)
    return _password(value)


def _fetch(arn: str, client_factory: ClientFactory) -> str:
    parts = arn.split(":")
    if len(parts) < 7 or not parts[3]:
        raise ValueError(f"malformed Secrets Manager ARN {arn!r}")
    try:
        answer = client_factory(parts[3]).get_secret_value(SecretId=arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ValueError(f"cannot read secret {arn}: {code}") from None
    except BotoCoreError as exc:
        raise ValueError(f"cannot reach Secrets Manager for {arn}: {exc}") from None
    secret = answer.get("SecretString")
    if not isinstance(secret, str):
        raise ValueError(f"secret {arn} has no string value")
    return secret


def _password(value: str) -> str:
    """A JSON object must hold a password; any other text is the secret itself."""
    if not value.lstrip().startswith("{"):
        return value
    try:
        document = json.loads(value)
    except json.JSONDecodeError:
        return value
    password = document.get("password") if isinstance(document, dict) else None
    if not isinstance(password, str):
        raise ValueError('a JSON secret must hold a string "password"')
    return password
