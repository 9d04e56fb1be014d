"""One job through the agent's runner, with an in-memory worker API and runtime: keep-alives
in every phase, in order; a 404 in any phase stops the job and nothing more is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest

from domain.jobs import FileKind, JobSpec, Status
from domain.runs.ports import JobGone, ProcessSpec, Progress
from domain.runs.state import Phase
from entrypoints.agent.display import LogDisplay
from entrypoints.agent.job import JobRunner, RunnerConfig, Slot

ORDER = [Status.PREPROCESSING, Status.RUNNING, Status.POSTPROCESSING, Status.FINISHED]


class FakeApi:
    def __init__(self, download_time: float = 0.0) -> None:
        self.reports: list[Status] = []
        self.uploads: list[tuple[FileKind, str, str]] = []
        self.gone = False
        self.gone_after: tuple[Status, int] | None = None  # 404 from the n-th report of status
        self.download_time = download_time

    async def pull(self, params: Mapping[str, object], limit: int) -> dict[int, JobSpec]:
        return {}

    async def report(
        self, job_id: int, status: Status, details: str | None = None, *, patience: float = 0
    ) -> None:
        if self.gone:
            raise JobGone(job_id, "PUT status")
        self.reports.append(status)
        if self.gone_after and self.reports.count(status) >= self.gone_after[1]:
            self.gone = self.gone_after[0] == status

    async def download(
        self, job_id: int, file_id: str, target: Path, progress: Progress | None = None
    ) -> int:
        await asyncio.sleep(self.download_time)
        return _write(target, b"data")

    async def upload(
        self,
        job_id: int,
        kind: FileKind,
        base_path: str,
        source: Path,
        name: str,
        progress: Progress | None = None,
    ) -> None:
        if self.gone:
            raise JobGone(job_id, "POST files/url")
        self.uploads.append((kind, base_path, name))


class FakeProcess:
    def __init__(self, spec: ProcessSpec, run_time: float, code: int) -> None:
        self.spec, self.code = spec, code
        self.done = asyncio.Event()
        self.stopped_with: float | None = None
        self.cleaned = False
        self._timer = asyncio.get_running_loop().call_later(run_time, self.done.set)

    async def wait(self) -> int:
        await self.done.wait()
        return self.code

    async def stop(self, grace: float) -> None:
        self.stopped_with = grace
        self.code = -15
        self.done.set()

    async def cleanup(self) -> None:
        self.cleaned = True


class FakeRuntime:
    def __init__(self, run_time: float = 0.0, code: int = 0) -> None:
        self.run_time, self.code = run_time, code
        self.processes: list[FakeProcess] = []

    def root_for(self, job_dir: Path) -> str:
        return str(job_dir)

    async def prepare(self, image: str | None) -> None:
        return None

    async def start(self, spec: ProcessSpec) -> FakeProcess:
        spec.stdout.write_text("out\n")
        process = FakeProcess(spec, self.run_time, self.code)
        self.processes.append(process)
        return process


def job(**hardware: int) -> JobSpec:
    return JobSpec.from_document(
        {
            "app": {"cmd": ["fit"]},
            "handler": {
                "image_url": "img",
                "files_down": {"in/a.bin": "u/a.bin"},
                "files_up": {"output": "out"},
            },
            "meta": {"job_id": 1, "date_created": "2026-11-30"},
            "hardware": hardware,
        }
    )


def runner(tmp_path: Path, api: FakeApi, runtime: FakeRuntime) -> JobRunner:
    config = RunnerConfig(
        work_dir=tmp_path, keepalive_interval=0.02, run_timeout=5, kill_grace=0.5,
        report_patience=0,
    )  # fmt: skip
    return JobRunner(api, runtime, config, LogDisplay())  # type: ignore[arg-type]


def _write(target: Path, data: bytes) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.write_bytes(data)


def leftovers(folder: Path) -> list[Path]:
    return list(folder.iterdir())


def in_order(reports: list[Status]) -> bool:
    ranks = [ORDER.index(s) if s in ORDER else len(ORDER) for s in reports]
    return ranks == sorted(ranks)


async def test_keep_alives_go_on_in_every_phase_and_never_go_backwards(tmp_path: Path) -> None:
    api = FakeApi(download_time=0.15)
    runtime = FakeRuntime(run_time=0.15)
    run = await runner(tmp_path, api, runtime).run(7, job(), Slot(0))

    assert run.phase is Phase.FINISHED
    assert api.reports.count(Status.PREPROCESSING) >= 3  # keep-alives while downloading
    assert api.reports.count(Status.RUNNING) >= 3  # and while running
    assert api.reports[-1] is Status.FINISHED
    assert in_order(api.reports), api.reports
    assert (FileKind.LOG, "", "stdout.log") in api.uploads
    assert runtime.processes[0].cleaned
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("phase", [Status.PREPROCESSING, Status.RUNNING])
async def test_a_404_in_any_phase_stops_the_job_and_sends_nothing_more(
    tmp_path: Path, phase: Status
) -> None:
    api = FakeApi(download_time=0.3)
    api.gone_after = (phase, 2)  # the second report of that phase (a keep-alive) gets 404
    runtime = FakeRuntime(run_time=10)
    run = await asyncio.wait_for(runner(tmp_path, api, runtime).run(7, job(), Slot(0)), 5)

    assert run.phase is Phase.CANCELED
    assert api.uploads == []
    assert api.reports[-1] is phase  # nothing reported after the 404
    if phase is Status.RUNNING:
        assert runtime.processes[0].stopped_with == 0.5  # SIGTERM, SIGKILL after the grace
        assert runtime.processes[0].cleaned
    else:
        assert runtime.processes == []  # canceled during the download: never started
    assert leftovers(tmp_path) == []


async def test_a_run_over_its_timeout_is_stopped_and_an_error(tmp_path: Path) -> None:
    api = FakeApi()
    runtime = FakeRuntime(run_time=10)
    run = await runner(tmp_path, api, runtime).run(7, job(timeout=1), Slot(0))

    assert run.phase is Phase.FAILED
    assert run.reason == "run timeout"
    assert runtime.processes[0].stopped_with == 0.5
    assert api.reports[-1] is Status.ERROR
    assert (FileKind.LOG, "", "stdout.log") in api.uploads  # the logs still go up


async def test_a_gpu_slot_passes_its_gpu_to_the_process(tmp_path: Path) -> None:
    runtime = FakeRuntime()
    await runner(tmp_path, FakeApi(), runtime).run(7, job(), Slot(1, gpu="1"))
    assert runtime.processes[0].spec.gpu == "1"
    assert runtime.processes[0].spec.argv == ("/bin/sh", "-c", "fit")


class BrokenUploadApi(FakeApi):
    async def upload(self, *args: object, **kwargs: object) -> None:
        raise KeyError(2)  # e.g. a display callback failing inside a transfer


async def test_a_bug_of_ours_ends_the_job_as_an_error_not_the_agent(tmp_path: Path) -> None:
    api = BrokenUploadApi()
    run = await runner(tmp_path, api, FakeRuntime()).run(7, job(), Slot(0))

    assert run.phase is Phase.FAILED
    assert run.reason == "agent error: KeyError: 2"
    assert api.reports[-1] is Status.ERROR
    assert leftovers(tmp_path) == []
