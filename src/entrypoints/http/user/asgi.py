"""ASGI entry of the user API for servers: `entrypoints.http.user.asgi:create_app`."""

from litestar import Litestar

from entrypoints.http.user.app import create_user_app


def create_app() -> Litestar:
    return create_user_app()


__all__ = ["create_app"]
