"""The application catalogue (DECODE's APPLICATION_CONFIG_FILE): what users may launch.

Shape: application -> version -> entrypoint -> {app: {cmd, env}, handler: {image_url,
files_down, files_up}, aws_resources: {hardware, timeout}}. `app.env` is the allow-list of
the environment variables a user may set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.errors import InvalidInput, NotFound
from domain.jobs import FileKind, Hardware

INPUT_KINDS = ("config_id", "data_ids", "artifact_ids")
_HARDWARE = {
    "cpu_cores": int,
    "memory": int,
    "gpu_model": str,
    "gpu_archi": str,
    "gpu_mem": int,
}


class CatalogueError(ValueError):
    """The catalogue document is malformed; the message names the entry."""


class UnknownApplication(NotFound):
    pass


@dataclass(frozen=True, slots=True)
class Entrypoint:
    application: str
    version: str
    entrypoint: str
    cmd: tuple[str, ...]
    image_url: str
    env_allowed: frozenset[str] = frozenset()
    files_down: dict[str, str] = field(default_factory=dict)  # input kind -> worker folder
    files_up: dict[FileKind, str] = field(default_factory=dict)
    hardware: Hardware = field(default_factory=Hardware)
    timeout: int | None = None

    def document(self) -> dict[str, Any]:
        return {
            "application": self.application,
            "version": self.version,
            "entrypoint": self.entrypoint,
            "env": sorted(self.env_allowed),
            "hardware": {k: getattr(self.hardware, k) for k in _HARDWARE},
            "timeout": self.timeout,
        }


@dataclass(frozen=True, slots=True)
class Catalogue:
    entries: tuple[Entrypoint, ...] = ()

    def find(self, application: str, version: str, entrypoint: str) -> Entrypoint:
        for entry in self.entries:
            if (entry.application, entry.version, entry.entrypoint) == (
                application,
                version,
                entrypoint,
            ):
                return entry
        raise UnknownApplication(
            f"application {application!r} version {version!r} entrypoint {entrypoint!r}"
            " is not in the catalogue"
        )


def parse_catalogue(document: Any) -> Catalogue:
    """A Catalogue from the parsed YAML; CatalogueError naming the faulty entry."""
    if document is None:
        return Catalogue()
    entries = []
    for app, versions in _mapping(document, "the catalogue").items():
        for version, entrypoints in _mapping(versions, f"{app}").items():
            for name, spec in _mapping(entrypoints, f"{app}/{version}").items():
                entries.append(_entry(str(app), str(version), str(name), spec))
    return Catalogue(tuple(entries))


def _mapping(value: Any, where: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise CatalogueError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _entry(app: str, version: str, name: str, spec: Any) -> Entrypoint:
    where = f"{app}/{version}/{name}"
    spec = _mapping(spec, where)
    app_part = _mapping(spec.get("app") or {}, f"{where}: app")
    handler = _mapping(spec.get("handler"), f"{where}: handler")
    resources = _mapping(spec.get("aws_resources") or {}, f"{where}: aws_resources")
    image_url = handler.get("image_url")
    if not isinstance(image_url, str) or not image_url:
        raise CatalogueError(f"{where}: handler.image_url must be a non-empty string")
    return Entrypoint(
        application=app,
        version=version,
        entrypoint=name,
        cmd=tuple(_strings(app_part.get("cmd") or [], f"{where}: app.cmd")),
        image_url=image_url,
        env_allowed=frozenset(_strings(app_part.get("env") or [], f"{where}: app.env")),
        files_down=_files_down(handler.get("files_down") or {}, where),
        files_up=_files_up(handler.get("files_up") or {}, where),
        hardware=_hardware(resources.get("hardware") or {}, where),
        timeout=_timeout(resources.get("timeout"), where),
    )


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"{where}: expected a list of strings")
    return value


def _files_down(value: Any, where: str) -> dict[str, str]:
    folders = _mapping(value, f"{where}: handler.files_down")
    unknown = set(folders) - set(INPUT_KINDS)
    if unknown:
        raise CatalogueError(
            f"{where}: handler.files_down: unknown input {sorted(unknown)[0]!r}"
            f" (expected {', '.join(INPUT_KINDS)})"
        )
    if not all(isinstance(v, str) and v for v in folders.values()):
        raise CatalogueError(f"{where}: handler.files_down: folders must be non-empty strings")
    return {str(k): str(v) for k, v in folders.items()}


def _files_up(value: Any, where: str) -> dict[FileKind, str]:
    folders = _mapping(value, f"{where}: handler.files_up")
    try:
        kinds = {FileKind(str(k)): v for k, v in folders.items()}
    except ValueError:
        raise CatalogueError(
            f"{where}: handler.files_up: keys must be output, log or artifact"
        ) from None
    if not all(isinstance(v, str) and v for v in kinds.values()):
        raise CatalogueError(f"{where}: handler.files_up: folders must be non-empty strings")
    return kinds


def _hardware(value: Any, where: str) -> Hardware:
    given = _mapping(value, f"{where}: aws_resources.hardware")
    values: dict[str, Any] = {}
    for key, item in given.items():
        kind = _HARDWARE.get(str(key))
        if kind is None:
            raise CatalogueError(f"{where}: aws_resources.hardware: unknown field {key!r}")
        if item is not None and (not isinstance(item, kind) or isinstance(item, bool)):
            raise CatalogueError(f"{where}: aws_resources.hardware.{key}: expected {kind.__name__}")
        values[str(key)] = item
    return Hardware(**values)


def _timeout(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise CatalogueError(f"{where}: aws_resources.timeout: expected seconds > 0")
    return value


def check_env(entry: Entrypoint, env_vars: Mapping[str, str]) -> None:
    """Every variable the user sets must be on the entrypoint's allow-list (422 naming it)."""
    for name in env_vars:
        if name not in entry.env_allowed:
            raise InvalidInput(
                f"attributes.env_vars: {name!r} is not allowed for {entry.application}/"
                f"{entry.version}/{entry.entrypoint} (allowed: {sorted(entry.env_allowed)})"
            )
