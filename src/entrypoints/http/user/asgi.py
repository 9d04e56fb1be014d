"""ASGI entry of the user API for servers: `entrypoints.http.user.asgi:create_app`."""

from litestar import Litestar

from entrypoints.http.user.app import create_user_app
from entrypoints.orphans import exit_with_parent


def create_app() -> Litestar:
    """The app of the user API's server process (a child of granian's main process): it
    stops when that process is gone, as the worker API's do."""
    exit_with_parent()
    return create_user_app()


__all__ = ["create_app"]
