"""`jobcloud serve` for the user API: on its own (`--api user`), or in a child process beside
the worker API (`--api both`, the embedded default), stopped with it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from entrypoints.bootstrap import prepare
from entrypoints.orphans import exit_with_parent
from entrypoints.serve import check_port
from entrypoints.settings import Settings


def user_settings_of(settings: Settings) -> Settings:
    """The settings of the user API's process: its own database with DATABASE_URL."""
    from entrypoints.http.user.app import check_user_settings, own_database
    from entrypoints.http.user.settings import load_user_settings

    user_settings = load_user_settings()
    settings = prepare(own_database(settings, user_settings))
    check_user_settings(settings, user_settings)
    return settings


def serve_user(
    settings: Settings,
    host: str,
    port: int,
    upgrade: Callable[[Settings], Coroutine[Any, Any, None]],
) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    settings = user_settings_of(settings)
    check_port(host, port)
    asyncio.run(upgrade(settings))
    base = f"http://{host}:{port}"
    print(f"jobcloud user API listening on {base}  (API docs: {base}/schema)", flush=True)
    command = "uv run jobcloud" if "UV" in os.environ else "jobcloud"
    if settings.auth_mode == "local":
        print(
            f"  user token: {command} token --username NAME --group users"
            f" --data-dir {settings.data_dir}",
            flush=True,
        )
    print(
        f"  porch API (npg_porch_cli --base_url): {base}/porch/  admin token: {command}"
        f" porch-token --data-dir {settings.data_dir}",
        flush=True,
    )
    if os.environ.pop("JOBCLOUD_EXIT_WITH_PARENT", None) == "1":
        exit_with_parent()  # beside `serve --api both`: its death (even kill -9) stops us
    Granian(
        "entrypoints.http.user.asgi:create_app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        workers=1,
        factory=True,
        log_access=False,
    ).serve()


@contextlib.contextmanager
def user_api_process(settings: Settings, host: str, port: int) -> Iterator[None]:
    """The user API in a child process beside this one's worker API; stopped with it."""
    user_settings_of(settings)  # a bad user-side setting stops start-up here, not in the child
    command = [sys.executable, "-m", "entrypoints.cli", "serve", "--api", "user"]
    command += ["--host", host, "--user-port", str(port), "--no-scheduler"]
    env = {
        **os.environ,
        "JOBCLOUD_SCHEDULER": "0",
        "JOBCLOUD_DATA_DIR": str(settings.data_dir),
        "JOBCLOUD_EXIT_WITH_PARENT": "1",
    }
    child = subprocess.Popen(command, env=env)  # noqa: S603
    try:
        yield
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
