"""The user API's own settings (DECODE user API names), read once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from entrypoints.settings import SettingsError, _Env, read_dotenv


class UserSettings(msgspec.Struct, frozen=True, kw_only=True):
    auth: bool = False  # AUTH=1: POST /user, /token, /login
    application_config_file: str | None = None  # a local path or s3://bucket/key
    frontend_url: str | None = None  # CORS origin
    workerfacing_api_url: str | None = None  # the split topology: a remote worker API
    database_url: str | None = None  # the user side's own database (split topology)
    database_secret: str | None = None
    user_token_ttl: int = 3600
    cookie_name: str = "jobcloud_token"


def load_user_settings(env: Mapping[str, str] | None = None) -> UserSettings:
    if env is None:
        env = {**read_dotenv(Path(".env")), **os.environ}
    e = _Env(env)
    config = e.text("APPLICATION_CONFIG_FILE")
    if config and config.startswith("s3://") and "/" not in config.removeprefix("s3://"):
        raise SettingsError(f"APPLICATION_CONFIG_FILE: expected s3://BUCKET/KEY, got {config!r}")
    workerfacing = e.url("WORKERFACING_API_URL")
    if workerfacing and not e.text("INTERNAL_API_KEY_SECRET"):
        raise SettingsError("INTERNAL_API_KEY_SECRET: required with WORKERFACING_API_URL")
    database_url = e.text("DATABASE_URL")
    if database_url and not database_url.startswith(("sqlite", "postgres")):
        raise SettingsError(
            f"DATABASE_URL: expected a sqlite:/// or postgresql:// URL, got {database_url!r}"
        )
    if database_url and "{}" in database_url and not e.text("DATABASE_SECRET"):
        raise SettingsError("DATABASE_SECRET: required, DATABASE_URL has a {} placeholder")
    return UserSettings(
        auth=e.flag("AUTH", False),
        application_config_file=(
            config if not config or config.startswith("s3://") else str(Path(config).expanduser())
        ),
        frontend_url=e.url("FRONTEND_URL"),
        workerfacing_api_url=workerfacing,
        database_url=database_url,
        database_secret=e.text("DATABASE_SECRET"),
        user_token_ttl=e.integer("JOBCLOUD_USER_TOKEN_TTL", 3600, minimum=60),
    )
