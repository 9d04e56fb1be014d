"""ASGI entry for servers: `entrypoints.http.asgi:create_app` (a factory; settings from env)."""

from litestar import Litestar

from entrypoints.http.app import create_app as _create_app
from entrypoints.orphans import exit_with_parent


def create_app() -> Litestar:
    """The app of one server process (a child of granian's main process)."""
    exit_with_parent()
    return _create_app(freeze_gc=True)


__all__ = ["create_app"]
