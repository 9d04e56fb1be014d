"""Container runs through podman's or docker's command line (no daemon API needed).

The `run` arguments are built in one place (`run_arguments`). Containers always go: `--rm`,
and a forced `rm` after every run. Stopping: `kill --signal TERM`, then `kill` (SIGKILL)
after the grace period.

An agent killed outright (SIGKILL, a crash) leaves its containers running. Their names
end in `-<job id>-<agent pid>` (`job_container_name`); at its next start an agent of the same
worker name removes those whose agent process is gone (`remove_orphans`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from domain.runs.plan import CONTAINER_ROOT
from domain.runs.ports import ProcessSpec, RuntimeFailed

log = logging.getLogger(__name__)


async def _quiet(*argv: str, limit: float = 120) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), limit)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"{argv[1]} took longer than {limit} s"
    return process.returncode or 0, output.decode(errors="replace").strip()


def job_container_name(prefix: str, job_id: int, pid: int) -> str:
    """`<prefix>-<job id>-<pid of the agent that runs it>`."""
    return f"{prefix}-{job_id}-{pid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class ContainerProcess:
    def __init__(self, process: asyncio.subprocess.Process, binary: str, name: str) -> None:
        self._process, self._binary, self._name = process, binary, name

    async def wait(self) -> int:
        return await self._process.wait()

    async def stop(self, grace: float) -> None:
        await _quiet(self._binary, "kill", "--signal", "TERM", self._name, limit=30)
        try:
            await asyncio.wait_for(self._process.wait(), grace)
        except TimeoutError:
            await _quiet(self._binary, "kill", self._name, limit=30)
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()

    async def cleanup(self) -> None:
        await _remove(self._binary, self._name)


async def _remove(binary: str, name: str) -> None:
    code, output = await _quiet(binary, "rm", "--force", name, limit=60)
    if code != 0 and "no such container" not in output.lower():
        log.warning("%s rm --force %s: %s", binary, name, output)


class ContainerRuntime:
    def __init__(
        self,
        binary: str = "podman",
        *,
        extra_args: Sequence[str] = (),
        network: str | None = None,
        pull_timeout: float = 1800,
        host_paths: tuple[Path, Path] | None = None,
    ) -> None:
        self.binary = binary
        self.extra_args = tuple(extra_args)
        self.network = network
        self.pull_timeout = pull_timeout
        # (work folder here, the same folder on the engine's host): when the agent itself
        # runs in a container next to the engine (DECODE's PATH_BASE and PATH_HOST_BASE)
        self.host_paths = host_paths

    def mount_source(self, job_dir: Path) -> Path:
        """The job folder as the container engine's host sees it."""
        if self.host_paths is None:
            return job_dir
        here, host = self.host_paths
        return host / job_dir.relative_to(here)

    def root_for(self, job_dir: Path) -> str:
        return CONTAINER_ROOT

    async def prepare(self, image: str | None) -> None:
        """The image, pulled when it is not here yet."""
        if not image:
            raise RuntimeFailed("the job names no image (handler.image_url)")
        code, _ = await _quiet(self.binary, "image", "inspect", image, limit=60)
        if code == 0:
            return
        log.info("pulling %s", image)
        code, output = await _quiet(self.binary, "pull", image, limit=self.pull_timeout)
        if code != 0:
            raise RuntimeFailed(f"cannot pull {image}: {output[-500:]}")

    async def remove_orphans(self, prefix: str) -> list[str]:
        """Remove the containers named `<prefix>-<job id>-<pid>` whose agent process (pid) is
        gone; their names."""
        code, output = await _quiet(self.binary, "ps", "--all", "--format", "{{.Names}}", limit=60)
        if code != 0:
            log.warning("%s ps: %s; leftover containers not looked for", self.binary, output)
            return []
        pattern = re.compile(rf"{re.escape(prefix)}-\d+-(\d+)")
        orphans = [
            name
            for name in output.split()
            if (match := pattern.fullmatch(name)) and not _alive(int(match[1]))
        ]
        for name in orphans:
            log.warning("removing container %s: its agent is gone", name)
            await _remove(self.binary, name)
        return orphans

    def run_arguments(self, spec: ProcessSpec) -> list[str]:
        """The one place where a container's command line is built."""
        args = [self.binary, "run", "--rm", "--name", spec.name, *self.extra_args]
        if self.network:
            args += ["--network", self.network]
        volume = f"{self.mount_source(spec.job_dir)}:{CONTAINER_ROOT}"
        args += ["--volume", volume, "--workdir", CONTAINER_ROOT]
        for key, value in spec.env.items():
            args += ["--env", f"{key}={value}"]
        if spec.memory_mib:
            args += ["--memory", f"{spec.memory_mib}m"]
        if spec.cpu_cores:
            args += ["--cpus", str(spec.cpu_cores)]
        if spec.gpu is not None:
            gpu = ["--gpus", f"device={spec.gpu}"]
            args += ["--device", f"nvidia.com/gpu={spec.gpu}"] if self._podman else gpu
        if spec.stdin is not None:
            args.append("--interactive")
        if spec.entrypoint:
            args += ["--entrypoint", spec.entrypoint]
        return [*args, spec.image or "", *spec.argv]

    @property
    def _podman(self) -> bool:
        return Path(self.binary).name.startswith("podman")

    async def start(self, spec: ProcessSpec) -> ContainerProcess:
        with contextlib.ExitStack() as files:
            stdin = files.enter_context(spec.stdin.open("rb")) if spec.stdin else None
            stdout = files.enter_context(spec.stdout.open("wb"))
            stderr = files.enter_context(spec.stderr.open("wb"))
            process = await asyncio.create_subprocess_exec(
                *self.run_arguments(spec),
                stdin=stdin or asyncio.subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        return ContainerProcess(process, self.binary, spec.name)
