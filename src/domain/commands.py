"""Typed commands (`app.command`): ordered arguments and where the standard streams go.

An alternative to DECODE's `app.cmd`: no shell is involved, so a value can never inject
anything. Inputs are file ids (downloaded; replaced by their local path), outputs are paths
relative to the job's output folder (uploaded after a zero exit), parameters stay as given.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidInput


class ArgumentType(enum.StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    PARAMETER = "parameter"


class StreamType(enum.StrEnum):
    PIPE = "pipe"  # stdin: the text itself; stdout/stderr: captured into the job's logs
    FILE = "file"  # stdin: a file id; stdout/stderr: a file of the job's outputs


@dataclass(frozen=True, slots=True)
class Argument:
    type: ArgumentType
    value: str
    name: str | None = None  # e.g. "--threshold": rendered before the value


@dataclass(frozen=True, slots=True)
class Stream:
    type: StreamType
    value: str


@dataclass(frozen=True, slots=True)
class Command:
    arguments: tuple[Argument, ...]
    stdin: Stream | None = None
    stdout: Stream | None = None
    stderr: Stream | None = None

    def __post_init__(self) -> None:
        if not self.arguments:
            raise InvalidInput("app.command.arguments: at least one argument (the program)")
        for i, argument in enumerate(self.arguments):
            if argument.type is ArgumentType.OUTPUT:
                relative_output(argument.value, f"app.command.arguments[{i}].value")
        for name in ("stdout", "stderr"):
            stream = getattr(self, name)
            if stream is not None and stream.type is StreamType.FILE:
                relative_output(stream.value, f"app.command.{name}.value")

    @property
    def input_files(self) -> tuple[str, ...]:
        ids = [a.value for a in self.arguments if a.type is ArgumentType.INPUT]
        if self.stdin is not None and self.stdin.type is StreamType.FILE:
            ids.append(self.stdin.value)
        return tuple(ids)

    def document(self) -> dict[str, Any]:
        def stream(s: Stream | None) -> dict[str, str] | None:
            return None if s is None else {"type": s.type.value, "value": s.value}

        return {
            "arguments": [
                {"type": a.type.value, "value": a.value, "name": a.name} for a in self.arguments
            ],
            "stdin": stream(self.stdin),
            "stdout": stream(self.stdout),
            "stderr": stream(self.stderr),
        }

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> Command:
        def stream(s: Mapping[str, str] | None) -> Stream | None:
            return None if s is None else Stream(StreamType(s["type"]), s["value"])

        return cls(
            arguments=tuple(
                Argument(ArgumentType(a["type"]), a["value"], a.get("name"))
                for a in data.get("arguments") or ()
            ),
            stdin=stream(data.get("stdin")),
            stdout=stream(data.get("stdout")),
            stderr=stream(data.get("stderr")),
        )


def relative_output(path: str, field: str) -> str:
    """A plain relative file path (no `..`, not absolute); InvalidInput naming `field`."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if path.startswith(("/", "\\")) or "\x00" in path or ".." in parts or not parts:
        raise InvalidInput(f"{field}: {path!r} is not a plain relative file path")
    return "/".join(parts)
