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
from typing import Any, Literal

from entrypoints.settings import SettingsError


@dataclass(frozen=True, slots=True)
class Option:
    flag: str
    env: tuple[str, ...]
    default: Any
    help: str
    kind: Literal["text", "int", "float", "flag", "choice"] = "text"
    choices: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


OPTIONS = (
    Option("--api-url", ("JOBCLOUD_API_URL", "API_URL"), None, "the worker API's URL (required)"),
    Option("--token", ("JOBCLOUD_TOKEN", "ACCESS_TOKEN"), None, "a bearer token, as given"),
    Option(
        "--token-file",
        ("JOBCLOUD_TOKEN_FILE",),
        None,
        "a file holding the token; re-read when it changes",
    ),
    Option(
        "--data-dir",
        ("JOBCLOUD_DATA_DIR",),
        None,
        "mint tokens from this jobcloud data folder (its local issuer)",
    ),
    Option(
        "--username",
        ("JOBCLOUD_USERNAME", "USERNAME"),
        None,
        "Cognito login (pool from GET /access_info); also the worker name of minted tokens",
    ),
    Option("--password", ("JOBCLOUD_PASSWORD", "PASSWORD"), None, "Cognito password"),
    Option(
        "--runtime",
        ("JOBCLOUD_RUNTIME",),
        "native",
        "where jobs run",
        "choice",
        ("native", "podman", "docker"),
    ),
    Option(
        "--container-args",
        ("JOBCLOUD_CONTAINER_ARGS",),
        "",
        "extra arguments of `run` (shell words), e.g. '--runtime runc'",
    ),
    Option(
        "--network",
        ("JOBCLOUD_CONTAINER_NETWORK",),
        None,
        "the containers' network mode (runtime default if unset), e.g. none, host",
    ),
    Option("--slots", ("JOBCLOUD_SLOTS",), 1, "jobs run at once (each GPU serves one slot)", "int"),
    Option(
        "--work-dir",
        ("JOBCLOUD_WORK_DIR", "PATH_BASE"),
        "./jobcloud-work",
        "job folders go under it",
    ),
    Option(
        "--host-work-dir",
        ("JOBCLOUD_HOST_WORK_DIR", "PATH_HOST_BASE"),
        None,
        "the work folder's path on the container engine's host (an agent in a container)",
    ),
    Option("--once", ("JOBCLOUD_ONCE",), False, "run one job, then exit", "flag"),
    Option(
        "--idle-limit",
        ("JOBCLOUD_IDLE_LIMIT",),
        0.0,
        "exit after this many seconds without a job (0: never)",
        "float",
    ),
    Option(
        "--poll-interval",
        ("JOBCLOUD_POLL_INTERVAL", "TIMEOUT_JOB"),
        10.0,
        "seconds between pulls when no job came",
        "float",
    ),
    Option(
        "--keepalive-interval",
        ("JOBCLOUD_KEEPALIVE_INTERVAL", "TIMEOUT_STATUS"),
        10.0,
        "seconds between keep-alives, in every phase",
        "float",
    ),
    Option(
        "--run-timeout",
        ("JOBCLOUD_RUN_TIMEOUT",),
        86400.0,
        "seconds a run may take unless the job says (hardware.timeout, meta.timeout)",
        "float",
    ),
    Option(
        "--kill-grace",
        ("JOBCLOUD_KILL_GRACE",),
        10.0,
        "seconds between SIGTERM and SIGKILL",
        "float",
    ),
    Option(
        "--drain-timeout",
        ("JOBCLOUD_DRAIN_TIMEOUT",),
        300.0,
        "after SIGTERM, seconds running jobs may take to finish",
        "float",
    ),
    Option(
        "--report-patience",
        ("JOBCLOUD_REPORT_PATIENCE",),
        600.0,
        "seconds a status report is retried while the API is down",
        "float",
    ),
    Option(
        "--transfer-attempts",
        ("JOBCLOUD_TRANSFER_ATTEMPTS",),
        3,
        "tries of each download and upload",
        "int",
    ),
    Option("--cpu-cores", ("JOBCLOUD_CPU_CORES",), None, "override the measured CPU cores", "int"),
    Option("--memory", ("JOBCLOUD_MEMORY",), None, "override the measured memory (MiB)", "int"),
    Option("--groups", ("JOBCLOUD_GROUPS",), "", "comma-separated job groups to ask for first"),
    Option(
        "--older-than",
        ("JOBCLOUD_OLDER_THAN",),
        0,
        "take jobs for any environment once older than this (s)",
        "int",
    ),
    Option("--verbose", ("JOBCLOUD_VERBOSE",), False, "log every request and detail", "flag"),
)


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


def add_options(parser: argparse.ArgumentParser) -> None:
    for option in OPTIONS:
        where = ", ".join(option.env)
        text = f"{option.help} ({where}; default: {option.default!r})"
        if option.kind == "flag":
            parser.add_argument(option.flag, action="store_true", default=None, help=text)
        else:
            parser.add_argument(option.flag, default=None, help=text, metavar=option.dest.upper())


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
