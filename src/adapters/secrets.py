"""Secrets: an AWS Secrets Manager ARN is fetched, a JSON `{"password": ...}` yields its
password, anything else is the secret itself. Runs once, at start-up (blocking is fine).

The Secrets Manager client is a plain boto3 client: it honours the usual AWS variables,
including AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL for a local endpoint. boto3 is
imported only when an ARN is given: every command resolves its secrets at start-up, and most
never name an ARN (boto3 alone costs half a second of start-up).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]*):")
PROBLEMS = {
    "ResourceNotFoundException": "no such secret",
    "AccessDeniedException": "access denied",
    "DecryptionFailure": "cannot decrypt it (KMS key access)",
    "InvalidRequestException": "the secret cannot be read now (deleted or pending?)",
}

ClientFactory = Callable[[str], Any]


def _secretsmanager(region: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard"})
    return boto3.client("secretsmanager", region_name=region, config=config)


def resolve_secret(
    value: str | None, *, client_factory: ClientFactory = _secretsmanager
) -> str | None:
    """The secret behind `value`; ValueError naming the problem when it cannot be had."""
    if value is None:
        return None
    match = ARN.match(value)
    if match is not None:
        value = _fetch(value, match["region"], client_factory)
    return _password(value)


def _fetch(arn: str, region: str, client_factory: ClientFactory) -> str:
    if not region or len(arn.split(":")) < 7:
        raise ValueError(
            f"malformed Secrets Manager ARN {arn!r}"
            " (expected arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)"
        )
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        answer = client_factory(region).get_secret_value(SecretId=arn)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "error"))
        problem = PROBLEMS.get(code, exc.response.get("Error", {}).get("Message", ""))
        raise ValueError(f"cannot read secret {arn}: {code} ({problem})") from None
    except NoCredentialsError:
        raise ValueError(f"cannot read secret {arn}: no AWS credentials found") from None
    except BotoCoreError as exc:
        raise ValueError(f"cannot reach Secrets Manager for {arn}: {exc}") from None
    secret = answer.get("SecretString")
    if not isinstance(secret, str):
        raise ValueError(f"secret {arn} has no string value (binary secrets are not supported)")
    return secret


def _password(value: str) -> str:
    """A JSON object must hold a string password; any other text is the secret itself."""
    if not value.lstrip().startswith("{"):
        return value
    try:
        document = json.loads(value)
    except json.JSONDecodeError:
        return value
    password = document.get("password") if isinstance(document, dict) else None
    if not isinstance(password, str):
        raise ValueError('the secret is a JSON object without a string "password"')
    return password
