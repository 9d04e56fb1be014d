"""Definition keys: what makes two submissions "the same work".

A key lives in a namespace. It is given by the client, or derived: the sha256 (hex) of the
canonical JSON of the definition. Canonical JSON is the form npg_porch hashes its task inputs
in (ujson with sorted keys): keys sorted at every level, no insignificant whitespace, non-ASCII
escaped as \\uXXXX and "/" escaped as "\\/". So key order never matters, while types and
values do (1, 1.0, "1" and true are four different keys).
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidInput

MAX_KEY_LENGTH = 255
DEFAULT_NAMESPACE = "default"
TRACKER_PREFIX = "porch/"  # the namespaces of the tracker's pipelines (`domain.pipelines.porch`)


class KeyScope(enum.StrEnum):
    """How long a key stays taken.

    ACTIVE: while a job with the key is not finished, i.e. its status is queued, pulled,
    preprocessing, running or postprocessing (not finished, error or canceled). After that a
    new submission of the key makes a new job. FOREVER: as long as the job exists (npg_porch).
    """

    ACTIVE = "active"
    FOREVER = "forever"


@dataclass(frozen=True, slots=True)
class JobKey:
    namespace: str
    key: str
    scope: KeyScope = KeyScope.ACTIVE

    def __post_init__(self) -> None:
        for name in ("namespace", "key"):
            value = getattr(self, name)
            if not value or len(value) > MAX_KEY_LENGTH:
                raise InvalidInput(f"{name}: expected 1 to {MAX_KEY_LENGTH} characters")


def canonical_json(value: Any) -> str:
    """The canonical JSON text of `value` (see the module's docstring)."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"not a JSON document: {exc}") from None
    # "/" occurs only inside strings in JSON text: escaping it everywhere escapes it there.
    return text.replace("/", "\\/")


def definition_key(value: Any) -> str:
    """sha256 (hex) of the canonical JSON of `value`: npg_porch's task_input_id."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """Which scope a key gets when the submission does not say: `forever` in the namespaces
    listed (JOBCLOUD_KEY_FOREVER_NAMESPACES), `active` elsewhere."""

    forever_namespaces: frozenset[str] = frozenset()

    def key_for(
        self,
        *,
        namespace: str | None,
        given: str | None,
        scope: KeyScope | None,
        definition: Any = None,
        derive: bool = False,
    ) -> JobKey | None:
        """The submission's key: `given`, else (with `derive`) the `definition_key` of
        `definition`, else none (no run-once for it)."""
        if given is None and not derive:
            if namespace is not None or scope is not None:
                raise InvalidInput("key: namespace and key_scope need a key (or derive_key)")
            return None
        key = given if given is not None else definition_key(definition)
        namespace = DEFAULT_NAMESPACE if namespace is None else namespace
        if namespace.startswith(TRACKER_PREFIX):
            raise InvalidInput(f"namespace: {TRACKER_PREFIX!r}... is the porch API's own")
        if scope is None:
            forever = namespace in self.forever_namespaces
            scope = KeyScope.FOREVER if forever else KeyScope.ACTIVE
        return JobKey(namespace, key, scope)
