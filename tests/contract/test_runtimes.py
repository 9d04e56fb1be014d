"""The Runtime port, run against each runtime: native, and podman when installed (required
when JOBCLOUD_REQUIRE_PODMAN=1)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

from adapters.runtimes.container import ContainerRuntime, job_container_name
from adapters.runtimes.native import NativeRuntime
from domain.runs.ports import ProcessSpec, Runtime, RuntimeFailed
from tests.e2e.agent_support import CONTAINER_ARGS, busybox_image, podman_or_skip

IMAGE_DIR: dict[str, str] = {}


@pytest.fixture(params=["native", "podman"])
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    if request.param == "native":
        return NativeRuntime()
    if "image" not in IMAGE_DIR:
        IMAGE_DIR["image"] = busybox_image(tmp_path_factory.mktemp("image"))
    return ContainerRuntime("podman", extra_args=CONTAINER_ARGS.split(), network="none")


def spec(tmp_path: Path, runtime: Runtime, line: str, **extra: object) -> ProcessSpec:
    job = tmp_path / "job"
    job.mkdir(exist_ok=True)
    return ProcessSpec(
        argv=("/bin/sh", "-c", line),
        env={"WHO": "job"},
        job_dir=job,
        stdout=tmp_path / "stdout.log",
        stderr=tmp_path / "stderr.log",
        image="localhost/jobcloud-busybox:test",
        name=f"jobcloud-test-{tmp_path.name[-20:]}-{time.monotonic_ns()}",
        **extra,  # type: ignore[arg-type]
    )


async def test_a_run_sees_its_env_and_folder_and_its_streams_land_in_files(
    runtime: Runtime, tmp_path: Path
) -> None:
    await runtime.prepare("localhost/jobcloud-busybox:test")
    process = await runtime.start(
        spec(tmp_path, runtime, "echo $WHO > made.txt; echo out; echo err >&2; exit 3")
    )
    assert await process.wait() == 3
    await process.cleanup()
    assert (tmp_path / "job/made.txt").read_text() == "job\n"
    assert (tmp_path / "stdout.log").read_text() == "out\n"
    assert (tmp_path / "stderr.log").read_text() == "err\n"


async def test_stdin_comes_from_a_file(runtime: Runtime, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("a b c\n")
    process = await runtime.start(spec(tmp_path, runtime, "cat", stdin=tmp_path / "in.txt"))
    assert await process.wait() == 0
    await process.cleanup()
    assert (tmp_path / "stdout.log").read_text() == "a b c\n"


async def test_stop_sends_sigterm_then_sigkill_after_the_grace_period(
    runtime: Runtime, tmp_path: Path
) -> None:
    line = "trap 'echo term; exit 0' TERM; echo ready; while true; do sleep 0.1; done"
    process = await runtime.start(spec(tmp_path, runtime, line))
    await _wait_for(tmp_path / "stdout.log", "ready")
    await process.stop(grace=5)
    assert "term" in (tmp_path / "stdout.log").read_text()  # it saw the SIGTERM
    await process.cleanup()

    stubborn = spec(tmp_path, runtime, "trap '' TERM; echo ready; while true; do sleep 0.1; done")
    process = await runtime.start(stubborn)
    await _wait_for(tmp_path / "stdout.log", "ready")
    started = time.monotonic()
    await process.stop(grace=1)
    assert time.monotonic() - started < 15  # SIGKILL after 1 s (podman's CLI adds its own)
    await process.cleanup()
    if isinstance(runtime, ContainerRuntime):
        assert stubborn.name not in _containers()


async def _wait_for(path: Path, text: str) -> None:
    for _ in range(300):
        if await asyncio.to_thread(_contains, path, text):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def _contains(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text()


def _containers() -> str:
    return subprocess.run(
        ["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True
    ).stdout


async def test_containers_are_removed_and_limits_applied(tmp_path: Path) -> None:
    runtime = ContainerRuntime("podman", extra_args=CONTAINER_ARGS.split(), network="none")
    busybox_image(tmp_path)
    job = spec(
        tmp_path,
        runtime,
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
        "/sys/fs/cgroup/memory.max 2>/dev/null; true",
        memory_mib=64,
        cpu_cores=1,
    )
    arguments = runtime.run_arguments(job)
    assert arguments[:3] == ["podman", "run", "--rm"]
    assert arguments[arguments.index("--memory") :][:2] == ["--memory", "64m"]
    assert arguments[arguments.index("--cpus") :][:2] == ["--cpus", "1"]
    assert arguments[arguments.index("--network") :][:2] == ["--network", "none"]
    assert f"{job.job_dir}:/files" in arguments
    process = await runtime.start(job)
    assert await process.wait() == 0
    await process.cleanup()
    assert str(64 * 1024 * 1024) in (tmp_path / "stdout.log").read_text()
    assert job.name not in _containers()


async def test_a_missing_image_that_cannot_be_pulled_is_a_clear_failure() -> None:
    podman_or_skip()
    runtime = ContainerRuntime("podman", extra_args=CONTAINER_ARGS.split())
    with pytest.raises(RuntimeFailed, match="cannot pull"):
        await runtime.prepare("localhost/jobcloud-no-such-image:none")


def test_gpus_go_to_the_runtime_device_option(tmp_path: Path) -> None:
    job = spec(tmp_path, NativeRuntime(), "true", gpu="1")
    podman = ContainerRuntime("/usr/bin/podman").run_arguments(job)
    docker = ContainerRuntime("docker").run_arguments(job)
    assert podman[podman.index("--device") :][:2] == ["--device", "nvidia.com/gpu=1"]
    assert docker[docker.index("--gpus") :][:2] == ["--gpus", "device=1"]


def test_an_agent_in_a_container_mounts_the_job_folder_by_its_host_path(tmp_path: Path) -> None:
    runtime = ContainerRuntime("docker", host_paths=(tmp_path, Path("/srv/jobcloud-work")))
    job = spec(tmp_path, runtime, "true", entrypoint="/bin/env")
    arguments = runtime.run_arguments(job)
    assert "/srv/jobcloud-work/job:/files" in arguments
    assert arguments[arguments.index("--entrypoint") :][:2] == ["--entrypoint", "/bin/env"]


def _sleepers(names: list[str]) -> None:
    run = ["podman", "run", "-d", *CONTAINER_ARGS.split(), "--network", "none"]
    for name in names:
        sleeper = ["--name", name, "localhost/jobcloud-busybox:test", "sleep", "300"]
        subprocess.run([*run, *sleeper], check=True, capture_output=True)


def _dead_pid() -> int:
    dead = subprocess.Popen(["true"])
    dead.wait()
    return dead.pid


def _remove(names: list[str]) -> None:
    subprocess.run(["podman", "rm", "--force", "--time", "0", *names], capture_output=True)


async def test_containers_of_an_agent_that_is_gone_are_removed_at_the_next_start(
    tmp_path: Path,
) -> None:
    """Named `<prefix>-<job id>-<agent pid>`: those whose agent pid is dead go, the live
    agent's stay, other names are not touched."""
    busybox_image(tmp_path)
    dead = _dead_pid()
    prefix = f"jobcloud-reap{time.monotonic_ns()}"
    orphan = job_container_name(prefix, 7, dead)
    live = job_container_name(prefix, 8, os.getpid())
    other = job_container_name(prefix + "x", 9, dead)
    try:
        _sleepers([orphan, live, other])
        runtime = ContainerRuntime("podman", extra_args=CONTAINER_ARGS.split())
        assert await runtime.remove_orphans(prefix) == [orphan]
        left = _containers().split()
        assert orphan not in left
        assert live in left
        assert other in left
    finally:
        _remove([orphan, live, other])
