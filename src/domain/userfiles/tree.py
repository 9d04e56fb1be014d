"""Where a user's path may lead: `<root>/<username>/{config,data,artifact,output,log}`."""

from __future__ import annotations

from domain.errors import PathNotAllowed
from domain.use_cases.files import inside, safe_relative
from domain.userfiles.ports import UserFileStore

FOLDERS = ("config", "data", "artifact", "output", "log")
WRITABLE = ("config", "data", "artifact")


class UserTree:
    """Turns a user's path into a key of the store, refusing (403) anything outside the
    user's own folders: `..`, absolute paths, links out, other users' trees."""

    def __init__(self, files: UserFileStore, username: str) -> None:
        self.files = files
        self.username = username

    def key(self, path: str, *, writable: bool = False, allow_root: bool = False) -> str:
        relative = safe_relative(path, "path")
        top = relative.split("/", 1)[0]
        if not relative:
            if allow_root:
                return self._confined(self.username, self.username)
            raise PathNotAllowed(path, "is not inside one of " + ", ".join(FOLDERS))
        allowed = WRITABLE if writable else FOLDERS
        if top not in allowed:
            verb = "writable " if writable else ""
            raise PathNotAllowed(path, f"is not inside a {verb}folder ({', '.join(allowed)})")
        return self._confined(f"{self.username}/{relative}", f"{self.username}/{top}")

    def _confined(self, wanted: str, folder: str) -> str:
        key = self.files.locate(wanted)
        if not inside(key, folder):
            raise PathNotAllowed(wanted.split("/", 1)[-1], "leads out of your folder")
        return key

    def path(self, key: str) -> str:
        """The user's path of one of their keys."""
        return key[len(self.username) + 1 :] if key.startswith(self.username + "/") else ""
