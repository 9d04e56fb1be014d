"""Settings: defaults of the embedded deployment, DECODE names, and errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from entrypoints.settings import SettingsError, load_settings, read_dotenv

COGNITO_ENDPOINT = "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"  # boto3's, by the service id


def test_no_configuration_is_the_embedded_default(tmp_path: Path) -> None:
    s = load_settings({}, data_dir=tmp_path)
    assert s.filesystem == "local"
    assert s.queue_db_url == f"sqlite:///{tmp_path / 'queue.db'}"
    assert s.user_data_root_path == tmp_path / "files"
    assert (s.max_retries, s.timeout_failure, s.retry_different) == (2, 300, True)
    assert s.auth_mode == "local"


def test_decode_variables_are_honoured() -> None:
    s = load_settings(
        {
            "FILESYSTEM": "s3",
            "S3_BUCKET": "decode-data",
            "S3_REGION": "eu-central-1",
            "QUEUE_DB_URL": "postgresql://queue:{}@db:5432/queue",
            "QUEUE_DB_SECRET": "pw",
            "MAX_RETRIES": "5",
            "TIMEOUT_FAILURE": "60",
            "RETRY_DIFFERENT": "0",
            "USERFACING_API_URL": "https://user.api/",
            "INTERNAL_API_KEY_SECRET": "k",
            "COGNITO_USER_POOL_ID": "eu-central-1_abc",
            "COGNITO_REGION": "eu-central-1",
            "COGNITO_CLIENT_ID": "client",
        }
    )
    assert s.filesystem == "s3"
    assert s.s3_bucket == "decode-data"
    assert (s.max_retries, s.timeout_failure, s.retry_different) == (5, 60, False)
    assert s.userfacing_api_url == "https://user.api"
    assert s.auth_mode == "cognito"
    assert s.cognito_endpoint_url is None  # AWS itself


def test_the_cognito_endpoint_is_boto3s_own_variable() -> None:
    cognito = {
        "COGNITO_USER_POOL_ID": "eu-central-1_abc",
        "COGNITO_REGION": "eu-central-1",
        "COGNITO_CLIENT_ID": "client",
    }
    emulator = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000/"}
    assert load_settings(cognito | emulator).cognito_endpoint_url == "http://127.0.0.1:5000"
    specific = emulator | {COGNITO_ENDPOINT: "http://127.0.0.1:5001"}
    assert load_settings(cognito | specific).cognito_endpoint_url == "http://127.0.0.1:5001"
    assert load_settings(emulator).cognito_endpoint_url is None  # no Cognito: not read


def test_boto3_reads_the_same_cognito_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The accounts' client and the JWKS must agree on the endpoint: same name as boto3's."""
    monkeypatch.setenv(COGNITO_ENDPOINT, "http://127.0.0.1:5001")
    client = boto3.client(
        "cognito-idp", region_name="eu-central-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    assert client.meta.endpoint_url == "http://127.0.0.1:5001"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MAX_RETRIES": "lots"}, "MAX_RETRIES"),
        ({"MAX_RETRIES": "-1"}, "MAX_RETRIES"),
        ({"TIMEOUT_FAILURE": "0"}, "TIMEOUT_FAILURE"),
        ({"RETRY_DIFFERENT": "maybe"}, "RETRY_DIFFERENT"),
        ({"FILESYSTEM": "ftp"}, "FILESYSTEM"),
        ({"FILESYSTEM": "s3"}, "S3_BUCKET"),
        ({"QUEUE_DB_URL": "mysql://x"}, "QUEUE_DB_URL"),
        ({"QUEUE_DB_URL": "postgresql://u:{}@h/db"}, "QUEUE_DB_SECRET"),
        ({"USERFACING_API_URL": "user.api"}, "USERFACING_API_URL"),
        ({"USERFACING_API_URL": "http://user.api"}, "INTERNAL_API_KEY_SECRET"),
        ({"COGNITO_USER_POOL_ID": "pool"}, "COGNITO_REGION"),
        (
            {"COGNITO_USER_POOL_ID": "p", COGNITO_ENDPOINT: "localhost:5000"},
            COGNITO_ENDPOINT,
        ),
        ({"JWT_JWKS_URL": "https://idp/jwks"}, "JWT_ISSUER"),
        ({"JOBCLOUD_SCHEDULER_INTERVAL": "0"}, "JOBCLOUD_SCHEDULER_INTERVAL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(env)


def test_dotenv(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# comment\nexport MAX_RETRIES=4\nS3_BUCKET='b'\n\nbroken line\n")
    assert read_dotenv(path) == {"MAX_RETRIES": "4", "S3_BUCKET": "b"}
    assert read_dotenv(tmp_path / "missing") == {}
