"""The local issuer's signing key: an RSA JWK kept in a file readable by its owner only."""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
from pathlib import Path

from joserfc.errors import JoseError
from joserfc.jwk import KeyParameters, RSAKey

log = logging.getLogger(__name__)

KEY_BITS = 2048
KEY_PARAMETERS: KeyParameters = {"alg": "RS256", "use": "sig"}


class KeyFileError(ValueError):
    """The signing key file cannot be created or is not a private RSA key."""


def load_or_create(path: Path) -> RSAKey:
    """The key in `path`, created first if missing (once: concurrent creators agree)."""
    if not path.exists():
        _create(path)
    return _load(path)


def _create(path: Path) -> None:
    key = RSAKey.generate_key(KEY_BITS, parameters=KEY_PARAMETERS, auto_kid=True)
    data = json.dumps(key.as_dict(private=True)).encode()
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(temp, data)
        os.link(temp, path)  # atomic, never replaces: the first creator's key wins
    except FileExistsError:
        pass
    except OSError as exc:
        raise KeyFileError(f"cannot create the signing key {path}: {exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    log.info("signing key %s ready (kid %s)", path, key.kid)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _load(path: Path) -> RSAKey:
    try:
        mode = path.stat().st_mode
        document = json.loads(path.read_bytes())
        key = RSAKey.import_key(document)
    except (OSError, ValueError, TypeError, KeyError, JoseError) as exc:
        raise KeyFileError(f"{path} is not a readable RSA JWK: {exc}") from exc
    if not key.is_private or not key.kid:
        raise KeyFileError(f"{path} must hold a private RSA JWK with a kid")
    if stat.S_IMODE(mode) & 0o077:
        log.warning("signing key %s is readable by others (mode %o)", path, stat.S_IMODE(mode))
    return key
