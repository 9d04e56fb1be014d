"""`jobcloud serve`: check what would fail later (the database, the port), tell the truth
about what runs where, then hand over to granian."""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from entrypoints.settings import Settings, SettingsError


@dataclass(frozen=True, slots=True)
class ServeOptions:
    host: str
    port: int
    workers: int
    scheduler: bool
    key_from_file: bool  # the internal API key was generated into the data folder


_held: list[int] = []  # the port lock of this process, held until it exits


def check_port(host: str, port: int) -> None:
    """Refuse a port already in use, by another jobcloud or any program.

    granian listens with SO_REUSEPORT (one socket per server process), which would let a
    second `serve` share the port with the first and get half its connections. A plain
    socket cannot bind next to any listener, SO_REUSEPORT or not: so try one first. A
    second `serve` started while the first is still starting (not yet listening) is
    stopped by a lock file per address, held by the first for as long as it runs."""
    _lock_port(host, port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no user
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise SettingsError(
                f"--port {port}: cannot listen on {host}:{port}: {reason}"
                " (another jobcloud serve, or another program, holds it)"
            ) from None


def _lock_port(host: str, port: int) -> None:
    name = f"jobcloud-{host.replace(':', '_').replace('/', '_')}-{port}.lock"
    path = Path(tempfile.gettempdir()) / name
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise SettingsError(
            f"--port {port}: another jobcloud serve holds {host}:{port} (lock {path})"
        ) from None
    _held.append(fd)


def safe_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{creds.split(':')[0]}:***@{host}" if at else url


def _files(settings: Settings) -> str:
    if settings.filesystem == "s3":
        return f"s3://{settings.s3_bucket}"
    return str(settings.user_data_root_path)


def banner(settings: Settings, options: ServeOptions) -> list[str]:
    base = f"http://{options.host}:{options.port}"
    lines = [
        f"jobcloud listening on {base}  (API docs: {base}/schema, metrics: {base}/metrics)",
        f"  queue: {safe_url(settings.queue_db_url)}; files: {_files(settings)}",
        f"  server processes: {options.workers}; scheduler: "
        + ("in-process" if options.scheduler else "off (run `jobcloud scheduler`)"),
    ]
    command = "uv run jobcloud" if "UV" in os.environ else "jobcloud"  # uv run sets UV
    if settings.auth_mode == "local":
        lines.append(
            f"  worker token: {command} token --username NAME --group workers"
            f" --data-dir {settings.data_dir}"
        )
    else:
        lines.append(f"  worker tokens: {settings.auth_mode} (see GET /access_info)")
    if options.key_from_file:
        key_file = settings.data_dir / "internal-api-key"
        lines.append(f"  internal API key (x-api-key): in {key_file}")
    else:
        lines.append("  internal API key (x-api-key): INTERNAL_API_KEY_SECRET")
    return lines


def fresh_metrics_folder() -> None:
    """prometheus-client's multiprocess mode: the folder must start empty (the values of
        an earlier run would be added to this one's). Called once, before any process of this
    `serve` (the user API's included) imports the metrics."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    except OSError as exc:
        raise SettingsError(f"PROMETHEUS_MULTIPROC_DIR: {exc}") from None


def serve(settings: Settings, options: ServeOptions) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    for line in banner(settings, options):
        print(line, flush=True)
    Granian(
        "entrypoints.http.asgi:create_app",
        address=options.host,
        port=options.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,  # workers speak HTTP/1.1; no protocol sniffing per connection
        websockets=False,
        workers=options.workers,
        factory=True,
        log_access=False,  # ours names the route and the worker (JOBCLOUD_ACCESS_LOG)
        respawn_failed_workers=True,  # a crashed server process is replaced
    ).serve()
