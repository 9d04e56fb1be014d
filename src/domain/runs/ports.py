"""What the agent needs from the outside: the worker API, a token, a runtime."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from domain.jobs import FileKind, JobSpec, Status

Progress = Callable[[int, int | None], None]  # bytes done, total (None when unknown)


class JobGone(Exception):
    """The API answered 404 about a job: canceled, deleted or given to another worker. Stop."""

    def __init__(self, job_id: int | None, what: str) -> None:
        super().__init__(f"job {job_id}: {what} answered 404")
        self.job_id = job_id


class ApiUnavailable(Exception):
    """Network error or 5xx: worth retrying later."""


class ApiRefused(Exception):
    """A 4xx other than 404: retrying the same request cannot help."""


class TransferFailed(Exception):
    """A download or upload that kept failing (after its retries)."""


class TokenSource(Protocol):
    async def token(self) -> str: ...

    def invalidate(self) -> None:
        """The API refused the token: get a fresh one next time."""


class WorkerApi(Protocol):
    async def pull(self, params: Mapping[str, object], limit: int) -> dict[int, JobSpec]: ...

    async def report(
        self, job_id: int, status: Status, details: str | None = None, *, patience: float = 0
    ) -> None:
        """One report; with patience > 0, network errors and 5xx are retried that long."""

    async def download(
        self, job_id: int, file_id: str, target: Path, progress: Progress | None = None
    ) -> int: ...

    async def upload(
        self,
        job_id: int,
        kind: FileKind,
        base_path: str,
        source: Path,
        name: str,
        progress: Progress | None = None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One process to start: argv, env, where it runs, its streams and limits."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    job_dir: Path
    stdout: Path
    stderr: Path
    stdin: Path | None = None
    image: str | None = None
    entrypoint: str | None = None
    name: str = "jobcloud-job"
    cpu_cores: int | None = None
    memory_mib: int | None = None
    gpu: str | None = None  # the GPU index (or uuid) this run may see


class Process(Protocol):
    async def wait(self) -> int: ...

    async def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; returns once it is gone."""

    async def cleanup(self) -> None:
        """Remove what the run left behind in the runtime (a container)."""


class RuntimeFailed(Exception):
    """The runtime could not do its part (e.g. the image cannot be pulled)."""


class Runtime(Protocol):
    def root_for(self, job_dir: Path) -> str:
        """Where the process sees the job folder (the folder itself, or /files)."""

    async def prepare(self, image: str | None) -> None:
        """Make the image available (pull it when missing)."""

    async def start(self, spec: ProcessSpec) -> Process: ...
