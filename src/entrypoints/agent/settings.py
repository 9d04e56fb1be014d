"""The worker agent's settings: each an option, its environment variables (jobcloud's, then
DECODE's fetcher's), a default. Command line > environment > default; a bad value stops
start-up with one line naming the option and the variable."""

from __future__ import annotations

import argparse
import os
import shlex
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entrypoints.agent.options import OPTIONS, Option
from entrypoints.settings import SettingsError


@dataclass(frozen=True, slots=True)
class AgentSettings:
    api_url: str
    token: str | None
    token_file: Path | None
    data_dir: Path | None
    username: str | None
    password: str | None
    runtime: str
    container_args: tuple[str, ...]
    network: str | None
    slots: int
    work_dir: Path
    host_work_dir: Path | None
    once: bool
    idle_limit: float
    poll_interval: float
    keepalive_interval: float
    run_timeout: float
    kill_grace: float
    drain_timeout: float
    report_patience: float
    transfer_attempts: int
    cpu_cores: int | None
    memory: int | None
    groups: tuple[str, ...]
    older_than: int
    verbose: bool

    @property
    def worker_name(self) -> str:
        return self.username or socket.gethostname()


def _convert(option: Option, value: Any, source: str) -> Any:
    converters: dict[str, Callable[[str], Any]] = {
        "int": _positive(int),
        "float": _positive(float),
        "flag": _flag,
        "choice": lambda v: _choice(v, option.choices),
        "text": str,
    }
    if isinstance(value, bool) or value is None:
        return value
    try:
        return converters[option.kind](str(value).strip())
    except (ValueError, KeyError):
        expected = {"int": "an integer >= 0", "float": "a number >= 0", "flag": "1/0/true/false"}
        want = expected.get(option.kind, "one of " + "/".join(option.choices))
        raise SettingsError(f"{source}: expected {want}, got {value!r}") from None


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        number = kind(value)
        if number < 0:
            raise ValueError
        return number

    return convert


def _flag(value: str) -> bool:
    return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}[
        value.lower()
    ]


def _choice(value: str, choices: tuple[str, ...]) -> str:
    if value.lower() not in choices:
        raise ValueError
    return value.lower()


def _value(option: Option, args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    given = getattr(args, option.dest, None)
    if given is not None:
        return _convert(option, given, option.flag)
    for name in option.env:
        if env.get(name, "").strip():
            return _convert(option, env[name], f"{option.flag} ({name})")
    return option.default


def agent_settings(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> AgentSettings:
    env = os.environ if env is None else env
    values = {o.dest: _value(o, args, env) for o in OPTIONS}
    if not values["api_url"] or not str(values["api_url"]).startswith(("http://", "https://")):
        raise SettingsError(
            f"--api-url (JOBCLOUD_API_URL, API_URL): expected an http(s):// URL, "
            f"got {values['api_url']!r}"
        )
    if values["slots"] < 1:
        raise SettingsError("--slots (JOBCLOUD_SLOTS): expected an integer >= 1")
    try:
        values["container_args"] = tuple(shlex.split(values["container_args"] or ""))
    except ValueError as exc:
        raise SettingsError(f"--container-args (JOBCLOUD_CONTAINER_ARGS): {exc}") from None
    values["groups"] = tuple(g.strip() for g in (values["groups"] or "").split(",") if g.strip())
    values["api_url"] = values["api_url"].rstrip("/")
    for key in ("token_file", "data_dir", "host_work_dir"):
        values[key] = Path(values[key]).expanduser() if values[key] else None
    values["work_dir"] = Path(values["work_dir"]).expanduser().absolute()
    settings = AgentSettings(**values)
    if not (settings.token or settings.token_file or settings.data_dir or settings.password):
        raise SettingsError(
            "no credentials: give --token (JOBCLOUD_TOKEN), --token-file (JOBCLOUD_TOKEN_FILE),"
            " --data-dir (JOBCLOUD_DATA_DIR) or --username/--password (USERNAME, PASSWORD)"
        )
    if settings.password and not settings.username:
        raise SettingsError("--username (JOBCLOUD_USERNAME, USERNAME): required with a password")
    return settings
