"""The embedded deployment's own token issuer: a signing key in the data folder."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from adapters.auth.claims import COGNITO_GROUPS, COGNITO_USERNAME, ClaimRules
from adapters.auth.keyfile import load_or_create
from adapters.auth.keys import StaticKeys
from adapters.auth.verifier import ALGORITHMS, KeySetVerifier

KEY_FILE = Path("auth", "signing-key.json")


class LocalIssuer:
    """Mints worker tokens and verifies them with a key kept in `<data_dir>/auth/`.

    Nothing touches the disk until the key is first needed; the key is created once (mode
    0600) and reloaded by every later instance on the same folder, so `jobcloud token` and
    `jobcloud serve` agree.
    """

    ISSUER = "jobcloud-local"
    AUDIENCE = "jobcloud"

    def __init__(self, data_dir: Path, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.key_path = data_dir / KEY_FILE
        self.issuer = issuer
        self.audience = audience
        self._key: RSAKey | None = None
        self._lock = threading.Lock()

    def signing_key(self) -> RSAKey:
        with self._lock:
            if self._key is None:
                self._key = load_or_create(self.key_path)
            return self._key

    def key_set(self) -> KeySet:
        """The public verification keys."""
        public = self.signing_key().as_dict(private=False)
        return KeySet([RSAKey.import_key(public)])

    def jwks(self) -> dict[str, Any]:
        """The JWKS document to serve at /.well-known/jwks.json: public parts only."""
        return dict(self.key_set().as_dict(private=False))

    def mint(self, username: str, groups: Iterable[str], ttl_seconds: int) -> str:
        if not username.strip():
            raise ValueError("username must not be empty")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be > 0")
        key = self.signing_key()
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": username,
            COGNITO_USERNAME: username,
            COGNITO_GROUPS: sorted(set(groups)),
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        header = {"alg": ALGORITHMS[0], "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key, algorithms=ALGORITHMS)

    def verifier(self) -> KeySetVerifier:
        """Verifies this issuer's tokens with the key set in memory (loaded off the loop)."""
        rules = ClaimRules(issuer=self.issuer, audience=self.audience)
        return KeySetVerifier(StaticKeys(self.key_set), rules)
