"""ASGI entry for servers: `entrypoints.http.asgi:create_app` (a factory; settings from env)."""

from entrypoints.http.app import create_app

__all__ = ["create_app"]
