"""A job's inputs: the user's paths resolved to the files a worker downloads."""

from __future__ import annotations

import posixpath

from domain.errors import InvalidInput, PathNotAllowed
from domain.userfiles.tree import UserTree
from domain.userjobs.model import Inputs
from domain.userjobs.spec import InputFile

_FOLDER_OF = {"config_id": "config", "data_ids": "data", "artifact_ids": "artifact"}


async def resolve_inputs(tree: UserTree, inputs: Inputs) -> dict[str, list[list[InputFile]]]:
    """Every input's files, by input kind. An id may name its folder (`data/run1`) or not
    (`run1`); a missing input is a 422 naming the field."""
    given = {
        "config_id": [inputs.config_id] if inputs.config_id else [],
        "data_ids": list(inputs.data_ids),
        "artifact_ids": list(inputs.artifact_ids),
    }
    resolved: dict[str, list[list[InputFile]]] = {}
    for kind, paths in given.items():
        resolved[kind] = [
            await _files(tree, kind, path, f"attributes.files_down.{kind}[{i}]")
            for i, path in enumerate(paths)
        ]
    return resolved


async def _files(tree: UserTree, kind: str, path: str, field: str) -> list[InputFile]:
    folder = _FOLDER_OF[kind]
    full = path if path.split("/", 1)[0] == folder else f"{folder}/{path.lstrip('/')}"
    try:
        key = tree.key(full)
    except PathNotAllowed as exc:
        raise PathNotAllowed(path, f"({field}) {exc}") from None
    entry = await tree.files.entry(key)
    if entry is None:
        raise InvalidInput(f"{field}: {path!r} does not exist in your {folder} folder")
    if not entry.is_dir:
        return [InputFile(posixpath.basename(key), key)]
    listed = await tree.files.listing(key, recursive=True)
    return [InputFile(e.key[len(key) + 1 :], e.key) for e in listed if not e.is_dir]
