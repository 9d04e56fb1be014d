"""The run plan of a job spec: what the agent downloads, runs and uploads, as DECODE does.

Paths are relative to the job's folder (`PATH_BASE/<job id>`), which is the working folder
of a native run and is mounted at `/files` in a container. No I/O here.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from domain.commands import ArgumentType, Command, StreamType, relative_output
from domain.errors import InvalidInput
from domain.jobs import FileKind, JobSpec

CONTAINER_ROOT = "/files"
INPUTS = "inputs"  # typed commands: downloaded inputs
OUTPUTS = "outputs"  # typed commands: their outputs (uploaded into the output folder)
STDOUT_LOG, STDERR_LOG = "stdout.log", "stderr.log"


@dataclass(frozen=True, slots=True)
class Download:
    local: str  # relative to the job folder
    file_id: str


@dataclass(frozen=True, slots=True)
class Upload:
    local: str  # relative to the job folder
    kind: FileKind
    base_path: str  # the folder inside the job's kind folder ("" for its top)
    name: str


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_cores: int | None
    memory_mib: int | None
    timeout: float


@dataclass(frozen=True, slots=True)
class RunPlan:
    job_id: int
    image: str | None
    entrypoint: str | None
    env: Mapping[str, str]
    downloads: tuple[Download, ...]
    folders: tuple[str, ...]  # made before the run (files_up folders, outputs' parents)
    upload_folders: tuple[tuple[FileKind, str], ...]  # every file under them is uploaded
    outputs: tuple[Upload, ...]  # typed outputs: uploaded after a zero exit
    limits: Limits
    command: Command | None
    shell_line: str | None  # DECODE: app.cmd joined by spaces, run by /bin/sh -c
    stdin_text: str | None = None
    stdin_file: str | None = None  # relative to the job folder

    def argv(self, root: str) -> tuple[str, ...]:
        """The command line, with the job folder at `root` ("." natively, /files in a
        container)."""
        if self.command is None:
            return ("/bin/sh", "-c", self.shell_line or "")
        return render_arguments(self.command, root)

    def stream_file(self, name: str) -> str | None:
        """Where stdout/stderr of a typed command go when it asks for a file."""
        stream = getattr(self.command, name) if self.command else None
        if stream is None or stream.type is not StreamType.FILE:
            return None
        return posixpath.join(OUTPUTS, relative_output(stream.value, name))


def run_timeout(spec: JobSpec, default: float) -> float:
    """The job's own limit (hardware.timeout, else the catalogue's meta.timeout), else ours."""
    if spec.hardware.timeout is not None:
        return float(spec.hardware.timeout)
    given = spec.meta.extra.get("timeout")
    if isinstance(given, int | float) and not isinstance(given, bool) and given > 0:
        return float(given)
    return default


def plan_run(job_id: int, spec: JobSpec, default_timeout: float) -> RunPlan:
    handler, app, command = spec.handler, spec.app, spec.app.command
    downloads = [
        Download(local_path(path, f"handler.files_down[{path!r}]"), file_id)
        for path, file_id in (handler.files_down or {}).items()
    ]
    upload_folders = tuple(
        (kind, local_path(folder, f"handler.files_up.{kind.value}", folder=True))
        for kind, folder in (handler.files_up or {}).items()
    )
    outputs: list[Upload] = []
    stdin_text = stdin_file = None
    if command is not None:
        downloads += [Download(p, i) for p, i in input_paths(command)]
        outputs = [_output(posixpath.join(OUTPUTS, p)) for p in output_paths(command)]
        outputs += [_output(f) for f in _stream_files(command)]
        if command.stdin is not None and command.stdin.type is StreamType.PIPE:
            stdin_text = command.stdin.value
        elif command.stdin is not None:
            stdin_file = _input_path(len(command.arguments), command.stdin.value)
            downloads.append(Download(stdin_file, command.stdin.value))
    folders = {f for _, f in upload_folders} | {posixpath.dirname(o.local) for o in outputs}
    return RunPlan(
        job_id=job_id,
        image=handler.image_url or None,
        entrypoint=handler.entrypoint,
        env=dict(app.env or {}),
        downloads=tuple(downloads),
        folders=tuple(sorted(f for f in folders if f not in ("", "."))),
        upload_folders=upload_folders,
        outputs=tuple(outputs),
        limits=Limits(
            spec.hardware.cpu_cores, spec.hardware.memory, run_timeout(spec, default_timeout)
        ),
        command=command,
        shell_line=" ".join(app.cmd or ()) if command is None else None,
        stdin_text=stdin_text,
        stdin_file=stdin_file,
    )


def _output(local: str) -> Upload:
    relative = posixpath.relpath(local, OUTPUTS)
    return Upload(local, FileKind.OUTPUT, posixpath.dirname(relative), posixpath.basename(local))


def _stream_files(command: Command) -> list[str]:
    files = []
    for name in ("stdout", "stderr"):
        stream = getattr(command, name)
        if stream is not None and stream.type is StreamType.FILE:
            files.append(posixpath.join(OUTPUTS, relative_output(stream.value, name)))
    return files


def _input_path(index: int, file_id: str) -> str:
    name = posixpath.basename(file_id.rstrip("/")) or "input"
    return f"{INPUTS}/{index}/{name}"


def input_paths(command: Command) -> list[tuple[str, str]]:
    """(local path, file id) of each input argument, in order."""
    return [
        (_input_path(i, a.value), a.value)
        for i, a in enumerate(command.arguments)
        if a.type is ArgumentType.INPUT
    ]


def output_paths(command: Command) -> list[str]:
    return [
        relative_output(a.value, f"app.command.arguments[{i}].value")
        for i, a in enumerate(command.arguments)
        if a.type is ArgumentType.OUTPUT
    ]


def render_arguments(command: Command, root: str) -> tuple[str, ...]:
    """Arguments in order, `name` before `value`; inputs and outputs as paths under root."""
    argv: list[str] = []
    for i, argument in enumerate(command.arguments):
        if argument.name:
            argv.append(argument.name)
        if argument.type is ArgumentType.INPUT:
            argv.append(posixpath.join(root, _input_path(i, argument.value)))
        elif argument.type is ArgumentType.OUTPUT:
            value = relative_output(argument.value, f"app.command.arguments[{i}].value")
            argv.append(posixpath.join(root, OUTPUTS, value))
        else:
            argv.append(argument.value)
    return tuple(argv)


def local_path(path: str, field: str, *, folder: bool = False) -> str:
    """A path inside the job folder; InvalidInput naming the field for anything else."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/") or "\x00" in path or ".." in parts or (not parts and not folder):
        raise InvalidInput(f"{field}: {path!r} must be a relative path inside the job folder")
    return "/".join(parts) or "."


def uploads_of(plan: RunPlan, found: Mapping[str, Iterable[str]]) -> list[Upload]:
    """Every file found under each files_up folder (paths relative to the job folder, per
    folder), uploaded as DECODE's fetcher stores it: the path relative to the job folder
    is kept, its folder part as `base_path`."""
    uploads = []
    for kind, folder in plan.upload_folders:
        for local in sorted(found.get(folder, ())):
            uploads.append(Upload(local, kind, posixpath.dirname(local), posixpath.basename(local)))
    return uploads


def describe(plan: RunPlan, root: str) -> str:
    """The command line as a person reads it (for logs)."""
    return shlex.join(plan.argv(root))
