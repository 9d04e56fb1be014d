"""Native runs: a subprocess in its own process group (session), so that stopping it stops
everything it started: SIGTERM to the group, SIGKILL after a grace period."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from domain.runs.ports import ProcessSpec


class NativeProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    async def wait(self) -> int:
        return await self._process.wait()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)

    async def stop(self, grace: float) -> None:
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._process.wait(), grace)
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await self._process.wait()

    async def cleanup(self) -> None:
        self._signal(signal.SIGKILL)  # whatever the job left running in its group


class NativeRuntime:
    """Runs the command on the host, in the job folder; the image is not used."""

    def root_for(self, job_dir: Path) -> str:
        return str(job_dir)

    async def prepare(self, image: str | None) -> None:
        """Nothing to prepare natively."""

    async def start(self, spec: ProcessSpec) -> NativeProcess:
        env = {**os.environ, **spec.env}
        if spec.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = spec.gpu
        with contextlib.ExitStack() as files:
            stdin = files.enter_context(spec.stdin.open("rb")) if spec.stdin else None
            stdout = files.enter_context(spec.stdout.open("wb"))
            stderr = files.enter_context(spec.stderr.open("wb"))
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                cwd=spec.job_dir,
                env=env,
                stdin=stdin or asyncio.subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # its own process group
            )
        return NativeProcess(process)
