"""Start-up steps that touch the outside world once: secrets, the data folder, local keys."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec

from adapters.secrets import resolve_secret
from entrypoints.settings import Settings, SettingsError

SECRET_VARIABLES = ("queue_db_secret", "internal_api_key_secret", "cognito_secret")


def _resolved(settings: Settings) -> Settings:
    values = {}
    for name in SECRET_VARIABLES:
        try:
            values[name] = resolve_secret(getattr(settings, name))
        except ValueError as exc:
            variable = settings.db_secret_variable if name == "queue_db_secret" else name.upper()
            raise SettingsError(f"{variable}: {exc}") from None
    return msgspec.structs.replace(settings, **values)


def local_api_key(data_dir: Path) -> str:
    """The embedded default's internal API key: made once, kept in the data folder (0600)."""
    path = data_dir / "internal-api-key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def prepare(settings: Settings) -> Settings:
    """Resolve secrets and make the embedded default's folders and keys."""
    settings = _resolved(settings)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.filesystem == "local":
            settings.user_data_root_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"JOBCLOUD_DATA_DIR / USER_DATA_ROOT_PATH: {exc}") from None
    if settings.internal_api_key_secret is None:
        key = local_api_key(settings.data_dir)
        settings = msgspec.structs.replace(settings, internal_api_key_secret=key)
    return settings
