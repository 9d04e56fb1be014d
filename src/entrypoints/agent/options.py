"""The options of `jobcloud worker`: each a flag, its environment variables (jobcloud's, then
DECODE's fetcher's) and a default."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Literal


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


def add_options(parser: argparse.ArgumentParser) -> None:
    for option in OPTIONS:
        where = ", ".join(option.env)
        text = f"{option.help} ({where}; default: {option.default!r})"
        if option.kind == "flag":
            parser.add_argument(option.flag, action="store_true", default=None, help=text)
        else:
            parser.add_argument(option.flag, default=None, help=text, metavar=option.dest.upper())
