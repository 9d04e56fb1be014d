"""One job, start to end: report, download, run, upload, report; keep-alives throughout.

The job's flow runs as a task; its keep-alive runs beside it every `keepalive_interval`
seconds, in every phase. A 404 on any call (the flow's or the keep-alive's) cancels the
flow: the process gets SIGTERM, then SIGKILL after the grace period, nothing more is sent,
and the job folder is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from adapters.http.retry import patiently
from adapters.runtimes.container import job_container_name
from domain.errors import InvalidInput
from domain.jobs import FileKind, JobSpec, Status
from domain.runs.plan import STDERR_LOG, STDOUT_LOG, RunPlan, plan_run, uploads_of
from domain.runs.ports import (
    ApiRefused,
    ApiUnavailable,
    JobGone,
    ProcessSpec,
    Runtime,
    RuntimeFailed,
    TransferFailed,
    WorkerApi,
)
from domain.runs.state import Phase, Run
from entrypoints.agent.display import Display

log = logging.getLogger("jobcloud.worker")
TAIL_BYTES = 4096


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    work_dir: Path
    keepalive_interval: float
    run_timeout: float
    kill_grace: float
    report_patience: float
    worker_name: str = "worker"

    @property
    def container_prefix(self) -> str:
        """What the names of this worker's containers start with."""
        return f"jobcloud-{self.worker_name}"


@dataclass(slots=True)
class Slot:
    index: int
    gpu: str | None = None


class JobRunner:
    def __init__(
        self, api: WorkerApi, runtime: Runtime, config: RunnerConfig, display: Display
    ) -> None:
        self._api, self._runtime, self._config, self._display = api, runtime, config, display

    async def run(self, job_id: int, spec: JobSpec, slot: Slot) -> Run:
        job = _Job(self, job_id, spec, slot)
        try:
            return await job.run()
        finally:
            await asyncio.to_thread(job.remove_folders)


class _Job:
    def __init__(self, runner: JobRunner, job_id: int, spec: JobSpec, slot: Slot) -> None:
        self.api, self.runtime = runner._api, runner._runtime
        self.config, self.display = runner._config, runner._display
        self.spec, self.slot = spec, slot
        self.state = Run(job_id)
        self.id = job_id
        self.dir = self.config.work_dir / str(job_id)
        self.logs = self.config.work_dir / f"{job_id}.logs"
        self.lock = asyncio.Lock()  # reports in order: a keep-alive never overtakes a move
        self.flow: asyncio.Task[None] | None = None

    def say(self, message: str) -> None:
        self.display.event(self.slot.index, self.id, message)

    async def run(self) -> Run:
        self.flow = asyncio.create_task(self._flow())
        keepalive = asyncio.create_task(self._keep_alive())
        try:
            await self.flow
        except asyncio.CancelledError:
            if self.state.phase is not Phase.CANCELED:
                raise  # the agent itself is being stopped
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
        self.say(f"{self.state.phase}" + (f" ({self.state.reason})" if self.state.reason else ""))
        return self.state

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.config.keepalive_interval)
            async with self.lock:
                status = self.state.status
                if status is None or self.state.ended:
                    return
                try:
                    await self.api.report(self.id, status)
                except JobGone:
                    self.state.cancel()
                    if self.flow is not None:
                        self.flow.cancel()
                    return
                except (ApiUnavailable, ApiRefused) as exc:
                    log.warning("job %d: keep-alive failed: %s", self.id, exc)

    async def _report(self, status: Status, details: str | None = None) -> None:
        """Retried while the API is unreachable, the lock taken per attempt so that
        keep-alives (of the new status) go on between attempts."""

        async def once() -> None:
            async with self.lock:
                await self.api.report(self.id, status, details)

        await patiently(once, self.config.report_patience, f"job {self.id}: report {status}")

    async def _flow(self) -> None:
        try:
            await self._report(Status.PREPROCESSING)
            plan = plan_run(self.id, self.spec, self.config.run_timeout)
            await self._prepare(plan)
            self.state.advance(Phase.RUNNING)
            await self._report(Status.RUNNING)
            await self._execute(plan)
            self.state.advance(Phase.UPLOADING)
            await self._report(Status.POSTPROCESSING)
            await self._upload(plan)
            status = self.state.conclude()
            await self._report(status, self.state.runtime_details())
        except JobGone:
            self.state.cancel()
        except (InvalidInput, TransferFailed, RuntimeFailed, ApiRefused, OSError) as exc:
            await self._fail(str(exc))
        except ApiUnavailable as exc:  # out of patience: the lease is gone by now anyway
            self.state.fail(f"API unreachable: {exc}")
        except Exception as exc:  # a bug of ours must not outlive the job
            log.exception("job %d: unexpected failure", self.id)
            await self._fail(f"agent error: {type(exc).__name__}: {exc}")

    async def _fail(self, reason: str) -> None:
        self.state.fail(reason)
        with contextlib.suppress(JobGone, ApiUnavailable, ApiRefused):
            await self._report(Status.ERROR, self.state.runtime_details())

    async def _prepare(self, plan: RunPlan) -> None:
        self.say("preparing")
        await asyncio.to_thread(self._make_folders, plan)
        for download in plan.downloads:
            target = self.dir / download.local
            progress = self.display.transfer(self.slot.index, self.id, download.local)
            await self.api.download(self.id, download.file_id, target, progress)
        await self.runtime.prepare(plan.image)

    def _make_folders(self, plan: RunPlan) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        for folder in plan.folders:
            (self.dir / folder).mkdir(parents=True, exist_ok=True)

    def _process(self, plan: RunPlan) -> ProcessSpec:
        stdin = None
        if plan.stdin_text is not None:
            stdin = self.logs / "stdin"
            stdin.write_text(plan.stdin_text)
        elif plan.stdin_file is not None:
            stdin = self.dir / plan.stdin_file
        out, err = plan.stream_file("stdout"), plan.stream_file("stderr")
        return ProcessSpec(
            argv=plan.argv(self.runtime.root_for(self.dir)),
            env=plan.env,
            job_dir=self.dir,
            stdout=self.dir / out if out else self.logs / STDOUT_LOG,
            stderr=self.dir / err if err else self.logs / STDERR_LOG,
            stdin=stdin,
            image=plan.image,
            entrypoint=plan.entrypoint,
            name=job_container_name(self.config.container_prefix, self.id, os.getpid()),
            cpu_cores=plan.limits.cpu_cores,
            memory_mib=plan.limits.memory_mib,
            gpu=self.slot.gpu,
        )

    async def _execute(self, plan: RunPlan) -> None:
        spec = self._process(plan)
        self.say(f"running (timeout {plan.limits.timeout:g} s)")
        process = await self.runtime.start(spec)
        timed_out = False
        try:
            try:
                code = await asyncio.wait_for(process.wait(), plan.limits.timeout)
            except TimeoutError:
                timed_out = True
                self.say("run timeout: stopping")
                await process.stop(self.config.kill_grace)
                code = await process.wait()
        except asyncio.CancelledError:
            self.say("stopping the run (job gone)")
            await process.stop(self.config.kill_grace)
            raise
        finally:
            await process.cleanup()
        self.state.exited(code, await asyncio.to_thread(self._tail, spec), timed_out)

    @staticmethod
    def _tail(spec: ProcessSpec) -> str:
        text = ""
        for path in (spec.stdout, spec.stderr):
            with contextlib.suppress(OSError), path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - TAIL_BYTES))
                text += handle.read().decode(errors="replace")
        return text

    async def _upload(self, plan: RunPlan) -> None:
        self.say("uploading")
        uploads = [
            (self.logs / name, FileKind.LOG, "", name)
            for name in (STDOUT_LOG, STDERR_LOG)
            if (self.logs / name).is_file()
        ]
        found = await asyncio.to_thread(self._found, plan)
        for item in uploads_of(plan, found):
            uploads.append((self.dir / item.local, item.kind, item.base_path, item.name))
        for output in plan.outputs:
            if self.state.succeeded and not (self.dir / output.local).is_file():
                self.state.note(f"output {output.local!r} was not written")
            elif self.state.succeeded:
                uploads.append(
                    (self.dir / output.local, output.kind, output.base_path, output.name)
                )
        for source, kind, base_path, name in uploads:
            progress = self.display.transfer(self.slot.index, self.id, name)
            await self.api.upload(self.id, kind, base_path, source, name, progress)

    def _found(self, plan: RunPlan) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for _, folder in plan.upload_folders:
            root = self.dir / folder
            files = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
            found[folder] = [p.relative_to(self.dir).as_posix() for p in files]
        return found

    def remove_folders(self) -> None:
        for folder in (self.dir, self.logs):
            shutil.rmtree(folder, ignore_errors=True)
