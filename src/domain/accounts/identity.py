"""Who a user is: a token holder in the `users` group (or an admin); names that make folders."""

from __future__ import annotations

import re

from domain.errors import Forbidden, InvalidInput
from domain.workers import Principal

USERS_GROUP = "users"
ADMIN_GROUP = "admin"
PRIVILEGED_GROUPS = frozenset({"workers", "cloud", ADMIN_GROUP})
KNOWN_GROUPS = PRIVILEGED_GROUPS | {USERS_GROUP}
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")


def check_username(name: str) -> str:
    """A username names the user's folder: no `/`, no `..`, nothing hidden."""
    if not _USERNAME.fullmatch(name) or ".." in name:
        raise InvalidInput(
            "username: 1-128 letters, digits or '._@+-', starting with a letter or digit,"
            f" no '..' (got {name!r})"
        )
    return name


def require_user(principal: Principal) -> str:
    """The user's name, or Forbidden unless the token is in the `users` (or `admin`) group."""
    if not principal.groups & {USERS_GROUP, ADMIN_GROUP}:
        raise Forbidden(f"user {principal.username!r} is not in the {USERS_GROUP!r} group")
    try:
        return check_username(principal.username)
    except InvalidInput:
        raise Forbidden(f"username {principal.username!r} cannot own files") from None


def is_admin(principal: Principal | None) -> bool:
    return principal is not None and ADMIN_GROUP in principal.groups
