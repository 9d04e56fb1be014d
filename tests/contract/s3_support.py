"""Helpers for tests against moto's S3 and Secrets Manager (fixtures: conftest.py)."""

from __future__ import annotations

from typing import Any

import boto3

REGION = "eu-central-1"


def secrets_client(endpoint: str) -> Any:
    return boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint)
