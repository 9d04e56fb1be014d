"""Settings: one frozen Struct built once at start-up from the environment (and `.env`).

The DECODE worker API's variable names are honoured; jobcloud's own settings are prefixed
`JOBCLOUD_` unless they extend a DECODE family (S3_*, JWT_*). A bad value stops start-up
with a message naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from domain.jobs import Status
from domain.notify.model import DEFAULT_STATUSES, NotifyPolicy
from domain.use_cases.forwarding import DEFAULT_CONCURRENCY

T = TypeVar("T")
DEFAULT_DATA_DIR = "./jobcloud-data"


class SettingsError(ValueError):
    """A configuration value is missing or wrong; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    data_dir: Path
    # storage
    filesystem: Literal["local", "s3"] = "local"
    user_data_root_path: Path
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    upload_url_ttl: int = 600
    max_upload_bytes: int = 10 * 1024**3
    # queue
    queue_db_url: str
    queue_db_secret: str | None = None
    # the variable queue_db_url came from, named by every message about the database: the
    # user side's own DATABASE_URL (and DATABASE_SECRET) replace QUEUE_DB_URL (`own_database`)
    db_url_variable: Literal["QUEUE_DB_URL", "DATABASE_URL"] = "QUEUE_DB_URL"
    db_pool_size: int | None = None  # default: 10 on PostgreSQL, 1 on SQLite
    max_retries: int = 2
    timeout_failure: int = 300
    retry_different: bool = True
    max_pull: int = 100
    key_forever_namespaces: frozenset[str] = frozenset()  # run once: default scope `forever`
    # user side
    userfacing_api_url: str | None = None
    internal_api_key_secret: str | None = None
    user_api: bool = True  # the user API shares this database (status flows in-process)
    # auth
    cognito_client_id: str | None = None
    cognito_secret: str | None = None
    cognito_user_pool_id: str | None = None
    cognito_region: str | None = None
    # where cognito-idp is reached and its JWKS fetched: boto3's own variables (service id
    # "Cognito Identity Provider"), AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER, else
    # AWS_ENDPOINT_URL; None: AWS itself (else an emulator such as moto or LocalStack)
    cognito_endpoint_url: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_groups_claim: str = "cognito:groups"
    jwt_username_claim: str = "cognito:username"
    db_application_name: str = "jobcloud"  # how this process shows in pg_stat_activity
    # scheduler
    scheduler: bool = True
    scheduler_interval: float = 1.0
    scheduler_metrics_port: int | None = None
    # notifications: see NotifySettings at the end of this module
    notify: NotifySettings = msgspec.field(default_factory=lambda: NotifySettings())
    # operations
    access_log: bool = True
    keepalive_forward_interval: float = 60.0  # DECODE mode: re-forward active jobs' status
    forward_concurrency: int = DEFAULT_CONCURRENCY  # jobs whose status is being delivered at once
    forward_timeout: float = 10.0  # seconds per delivery attempt
    leader_lease: float = 5.0  # seconds a scheduler leads without renewing

    @property
    def pool_size(self) -> int:
        """SQLite serialises writers: one connection queues them in order, where several
        would wait in SQLite's sleeping busy handler (p99 331 -> 24 ms at 8 workers)."""
        if self.db_pool_size is not None:
            return self.db_pool_size
        return 1 if self.queue_db_url.startswith("sqlite") else 10

    @property
    def db_secret_variable(self) -> str:
        """The variable queue_db_secret came from (QUEUE_DB_SECRET or DATABASE_SECRET)."""
        return "DATABASE_SECRET" if self.db_url_variable == "DATABASE_URL" else "QUEUE_DB_SECRET"

    @property
    def in_process_status(self) -> bool:
        """Status changes reach the user side's jobs in this database, without HTTP."""
        return self.userfacing_api_url is None and self.user_api

    @property
    def auth_mode(self) -> Literal["cognito", "oidc", "local"]:
        if self.cognito_user_pool_id:
            return "cognito"
        if self.jwt_jwks_url:
            return "oidc"
        return "local"


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; `#` comments, optional `export ` and quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


class _Env:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._env.get(name, "").strip()
        return value or default

    def parse(self, name: str, default: T, convert: Callable[[str], T], expected: str) -> T:
        value = self.text(name)
        if value is None:
            return default
        try:
            return convert(value)
        except (ValueError, KeyError):
            raise SettingsError(f"{name}: expected {expected}, got {value!r}") from None

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        def convert(value: str) -> int:
            number = int(value)
            if number < minimum:
                raise ValueError
            return number

        return self.parse(name, default, convert, f"an integer >= {minimum}")

    def number(self, name: str, default: float) -> float:
        def convert(value: str) -> float:
            number = float(value)
            if not number > 0:
                raise ValueError
            return number

        return self.parse(name, default, convert, "a number > 0")

    def flag(self, name: str, default: bool) -> bool:
        words = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}

        def convert(value: str) -> bool:
            return words[value.lower()]

        return self.parse(name, default, convert, "one of 1/0/true/false/yes/no")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        def convert(value: str) -> str:
            if value.lower() not in choices:
                raise ValueError
            return value.lower()

        return self.parse(name, default, convert, "one of " + "/".join(choices))

    def url(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not value.startswith(("http://", "https://")):
            raise SettingsError(f"{name}: expected an http(s):// URL, got {value!r}")
        return value.rstrip("/") if value else None


def load_settings(
    env: Mapping[str, str] | None = None, *, data_dir: str | Path | None = None
) -> Settings:
    """Settings from `env` (default: the process environment over `./.env`)."""
    if env is None:
        env = {**read_dotenv(Path(".env")), **os.environ}
    e = _Env(env)
    home = Path(data_dir or e.text("JOBCLOUD_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()
    settings = Settings(
        data_dir=home,
        **_files(e, home),
        **_queue(e, home),
        **_auth(e),
        **_scheduling(e),
        notify=load_notify_settings(e),
        access_log=e.flag("JOBCLOUD_ACCESS_LOG", True),
    )
    _check_consistency(settings)
    return settings


def _files(e: _Env, home: Path) -> dict[str, Any]:
    return {
        "filesystem": e.choice("FILESYSTEM", "local", ("local", "s3")),
        "user_data_root_path": Path(e.text("USER_DATA_ROOT_PATH") or home / "files"),
        "s3_bucket": e.text("S3_BUCKET"),
        "s3_region": e.text("S3_REGION"),
        "s3_endpoint_url": e.url("S3_ENDPOINT_URL"),
        "upload_url_ttl": e.integer("UPLOAD_URL_TTL", 600, minimum=1),
        "max_upload_bytes": e.integer("MAX_UPLOAD_BYTES", 10 * 1024**3, minimum=1),
    }


def _queue(e: _Env, home: Path) -> dict[str, Any]:
    forever = (e.text("JOBCLOUD_KEY_FOREVER_NAMESPACES") or "").split(",")
    return {
        "queue_db_url": e.text("QUEUE_DB_URL") or f"sqlite:///{home / 'queue.db'}",
        "queue_db_secret": e.text("QUEUE_DB_SECRET"),
        "db_pool_size": e.integer("JOBCLOUD_DB_POOL_SIZE", 0, minimum=1) or None,
        "max_retries": e.integer("MAX_RETRIES", 2),
        "timeout_failure": e.integer("TIMEOUT_FAILURE", 300, minimum=1),
        "retry_different": e.flag("RETRY_DIFFERENT", True),
        "max_pull": e.integer("JOBCLOUD_MAX_PULL", 100, minimum=1),
        "key_forever_namespaces": frozenset(name.strip() for name in forever if name.strip()),
        "userfacing_api_url": e.url("USERFACING_API_URL"),
        "internal_api_key_secret": e.text("INTERNAL_API_KEY_SECRET"),
        "user_api": e.flag("JOBCLOUD_USER_API", True),
        "db_application_name": e.text("JOBCLOUD_DB_APPLICATION_NAME", "jobcloud") or "jobcloud",
    }


def _auth(e: _Env) -> dict[str, Any]:
    return {
        "cognito_client_id": e.text("COGNITO_CLIENT_ID"),
        "cognito_secret": e.text("COGNITO_SECRET"),
        "cognito_user_pool_id": e.text("COGNITO_USER_POOL_ID"),
        "cognito_region": e.text("COGNITO_REGION"),
        "cognito_endpoint_url": _cognito_endpoint(e),
        "jwt_jwks_url": e.url("JWT_JWKS_URL"),
        "jwt_issuer": e.text("JWT_ISSUER"),
        "jwt_audience": e.text("JWT_AUDIENCE"),
        "jwt_groups_claim": e.text("JWT_GROUPS_CLAIM", "cognito:groups") or "cognito:groups",
        "jwt_username_claim": (
            e.text("JWT_USERNAME_CLAIM", "cognito:username") or "cognito:username"
        ),
    }


def _scheduling(e: _Env) -> dict[str, Any]:
    return {
        "scheduler": e.flag("JOBCLOUD_SCHEDULER", True),
        "scheduler_interval": e.number("JOBCLOUD_SCHEDULER_INTERVAL", 1.0),
        "scheduler_metrics_port": (
            e.integer("JOBCLOUD_SCHEDULER_METRICS_PORT", 0, minimum=1) or None
        ),
        "keepalive_forward_interval": e.number("KEEPALIVE_FORWARD_INTERVAL", 60.0),
        "forward_concurrency": e.integer(
            "JOBCLOUD_FORWARD_CONCURRENCY", DEFAULT_CONCURRENCY, minimum=1
        ),
        "forward_timeout": e.number("JOBCLOUD_FORWARD_TIMEOUT", 10.0),
        "leader_lease": e.number("JOBCLOUD_LEADER_LEASE", 5.0),
    }


def _cognito_endpoint(e: _Env) -> str | None:
    """boto3's service-specific variable first, then its global one (read only with Cognito)."""
    if not e.text("COGNITO_USER_POOL_ID"):
        return None
    return e.url("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER") or e.url("AWS_ENDPOINT_URL")


def _check_consistency(s: Settings) -> None:
    if s.filesystem == "s3" and not s.s3_bucket:
        raise SettingsError("S3_BUCKET: required when FILESYSTEM=s3")
    if "{}" in s.queue_db_url and not s.queue_db_secret:
        raise SettingsError("QUEUE_DB_SECRET: required, QUEUE_DB_URL has a {} placeholder")
    if not s.queue_db_url.startswith(("sqlite", "postgres")):
        raise SettingsError(
            f"QUEUE_DB_URL: expected a sqlite:/// or postgresql:// URL, got {s.queue_db_url!r}"
        )
    if s.cognito_user_pool_id and not (s.cognito_region and s.cognito_client_id):
        raise SettingsError("COGNITO_REGION, COGNITO_CLIENT_ID: required with COGNITO_USER_POOL_ID")
    if s.jwt_jwks_url and not s.jwt_issuer:
        raise SettingsError(
            "JWT_ISSUER: required with JWT_JWKS_URL (tokens must name their issuer)"
        )
    if s.userfacing_api_url and not s.internal_api_key_secret:
        raise SettingsError("INTERNAL_API_KEY_SECRET: required with USERFACING_API_URL")


# -- notifications (issue 10, item 6) ---------------------------------------------------------
# DECODE's EMAIL_SENDER_* names (empty service: no e-mail), SMTP_* for a mail server of your
# own, JOBCLOUD_NOTIFY_* and JOBCLOUD_WEBHOOK_SECRET for what DECODE does not have.

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class NotifySettings(msgspec.Struct, frozen=True, kw_only=True):
    on: frozenset[Status] = DEFAULT_STATUSES
    email_sender_service: Literal["smtp", "mailjet"] | None = None
    email_sender_address: str | None = None
    email_sender_api_key: str | None = None
    email_sender_secret_key: str | None = None  # may be an AWS Secrets Manager ARN
    email_sender_api_url: str = "https://api.mailjet.com"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None  # may be an AWS Secrets Manager ARN
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_ca_file: str | None = None
    webhook_secret: str | None = None
    webhook_allow_private: bool = False
    timeout: float = 30.0
    concurrency: int = 4
    max_attempts: int = 20
    backoff_max: float = 3600.0
    interval: float = 2.0


def load_notify_settings(e: _Env) -> NotifySettings:
    chosen = e.choice("EMAIL_SENDER_SERVICE", "none", ("smtp", "mailjet", "none"))
    service = None if chosen == "none" else chosen
    tls = e.flag("SMTP_TLS", False)
    starttls = e.flag("SMTP_STARTTLS", not tls)
    s = NotifySettings(
        on=e.parse("JOBCLOUD_NOTIFY_ON", DEFAULT_STATUSES, NotifyPolicy.parse_statuses, _ON),
        email_sender_service=service,  # type: ignore[arg-type]
        email_sender_address=e.text("EMAIL_SENDER_ADDRESS"),
        email_sender_api_key=e.text("EMAIL_SENDER_API_KEY"),
        email_sender_secret_key=e.text("EMAIL_SENDER_SECRET_KEY"),
        email_sender_api_url=e.url("EMAIL_SENDER_API_URL") or "https://api.mailjet.com",
        smtp_host=e.text("SMTP_HOST"),
        smtp_port=e.integer("SMTP_PORT", 465 if tls else 587 if starttls else 25, minimum=1),
        smtp_username=e.text("SMTP_USERNAME"),
        smtp_password=e.text("SMTP_PASSWORD"),
        smtp_starttls=starttls,
        smtp_tls=tls,
        smtp_ca_file=e.text("SMTP_CA_FILE"),
        webhook_secret=e.text("JOBCLOUD_WEBHOOK_SECRET"),
        webhook_allow_private=e.flag("JOBCLOUD_WEBHOOK_ALLOW_PRIVATE", False),
        timeout=e.number("JOBCLOUD_NOTIFY_TIMEOUT", 30.0),
        concurrency=e.integer("JOBCLOUD_NOTIFY_CONCURRENCY", 4, minimum=1),
        max_attempts=e.integer("JOBCLOUD_NOTIFY_MAX_ATTEMPTS", 20, minimum=1),
        backoff_max=e.number("JOBCLOUD_NOTIFY_BACKOFF_MAX", 3600.0),
        interval=e.number("JOBCLOUD_NOTIFY_INTERVAL", 2.0),
    )
    _check_notify(s)
    return s


_ON = "a comma-separated list of statuses (e.g. finished,error) or all"


def _check_notify(s: NotifySettings) -> None:
    service = s.email_sender_service
    if service and not s.email_sender_address:
        raise SettingsError(f"EMAIL_SENDER_ADDRESS: required with EMAIL_SENDER_SERVICE={service}")
    if s.email_sender_address and not _ADDRESS.match(s.email_sender_address):
        raise SettingsError(
            f"EMAIL_SENDER_ADDRESS: not an e-mail address: {s.email_sender_address!r}"
        )
    if service == "mailjet" and not (s.email_sender_api_key and s.email_sender_secret_key):
        raise SettingsError(
            "EMAIL_SENDER_API_KEY, EMAIL_SENDER_SECRET_KEY: required with "
            "EMAIL_SENDER_SERVICE=mailjet"
        )
    if service == "smtp" and not s.smtp_host:
        raise SettingsError("SMTP_HOST: required with EMAIL_SENDER_SERVICE=smtp")
    if s.smtp_port > 65535:
        raise SettingsError(f"SMTP_PORT: expected a port number, got {s.smtp_port}")
    if bool(s.smtp_username) != bool(s.smtp_password):
        raise SettingsError("SMTP_USERNAME, SMTP_PASSWORD: give both or neither")
    if s.smtp_ca_file and not Path(s.smtp_ca_file).is_file():
        raise SettingsError(f"SMTP_CA_FILE: no such file: {s.smtp_ca_file!r}")
    if s.smtp_tls and s.smtp_starttls:
        raise SettingsError("SMTP_STARTTLS: must be 0 with SMTP_TLS=1 (TLS from the start)")
