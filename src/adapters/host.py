"""The host as it really is: CPU and memory within cgroup limits (v1 and v2), every NVIDIA
GPU through NVML. `describe_host` measures; the parsers are pure and tested on their own."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from domain.runs.host import Gpu, HostDescription, architecture

log = logging.getLogger(__name__)
MIB = 1024 * 1024
_UNLIMITED_V1 = 1 << 60  # cgroup v1 writes a huge number for "no limit"


def cpu_limit_v2(cpu_max: str) -> float | None:
    """`cpu.max` ("max 100000" or "150000 100000") -> CPUs, None when unlimited."""
    quota, _, period = cpu_max.strip().partition(" ")
    if quota == "max" or not period:
        return None
    return int(quota) / int(period)


def cpu_limit_v1(quota_us: str, period_us: str) -> float | None:
    quota = int(quota_us.strip())
    return None if quota <= 0 else quota / int(period_us.strip())


def memory_limit(text: str) -> int | None:
    """`memory.max` (v2) or `memory.limit_in_bytes` (v1) -> bytes, None when unlimited."""
    value = text.strip()
    if value == "max":
        return None
    number = int(value)
    return None if number >= _UNLIMITED_V1 else number


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def own_cgroups(proc_self: str) -> dict[str, str]:
    """Controller -> the process's own cgroup path, from /proc/self/cgroup ("" is v2)."""
    paths: dict[str, str] = {}
    for line in proc_self.splitlines():
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path.strip().lstrip("/")
    return paths


def _v1(root: Path, paths: dict[str, str], controller: str, name: str) -> str | None:
    """A v1 file of the process's own cgroup, else of the controller's root."""
    for folder in (root / controller / paths.get(controller, ""), root / controller):
        text = _read(folder / name)
        if text is not None:
            return text
    return None


def cgroup_limits(
    root: Path = Path("/sys/fs/cgroup"), proc_self: str | None = None
) -> tuple[float | None, int | None]:
    """(CPUs, memory bytes) imposed by cgroups, v2 first, else v1; None where unlimited."""
    if proc_self is None:
        proc_self = _read(Path("/proc/self/cgroup")) or ""
    paths = own_cgroups(proc_self)
    if (root / "cgroup.controllers").is_file():  # unified (v2) hierarchy
        own = root / paths.get("", "")
        cpu_max, mem_max = _read(own / "cpu.max"), _read(own / "memory.max")
        return (
            cpu_limit_v2(cpu_max) if cpu_max else None,
            memory_limit(mem_max) if mem_max else None,
        )
    quota = _v1(root, paths, "cpu", "cpu.cfs_quota_us")
    period = _v1(root, paths, "cpu", "cpu.cfs_period_us")
    memory = _v1(root, paths, "memory", "memory.limit_in_bytes")
    return (
        cpu_limit_v1(quota, period) if quota and period else None,
        memory_limit(memory) if memory else None,
    )


def cpu_and_memory(
    cpus: int, memory_bytes: int, limits: tuple[float | None, int | None]
) -> tuple[int, int]:
    """The host's counts within the cgroup limits: (cores, MiB)."""
    cpu_cap, memory_cap = limits
    cores = cpus if cpu_cap is None else max(1, min(cpus, math.floor(cpu_cap)))
    memory = memory_bytes if memory_cap is None else min(memory_bytes, memory_cap)
    return cores, memory // MIB


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def nvidia_gpus(nvml: ModuleType | Any) -> tuple[Gpu, ...]:
    """Every NVIDIA GPU NVML sees; none when NVML (or its driver) is missing."""
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        log.info("no NVIDIA GPU: %s", exc)
        return ()
    try:
        gpus = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
            gpus.append(
                Gpu(
                    index=index,
                    model=_text(nvml.nvmlDeviceGetName(handle)),
                    memory_mib=int(nvml.nvmlDeviceGetMemoryInfo(handle).total) // MIB,
                    archi=architecture(major, minor),
                    uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                )
            )
        return tuple(gpus)
    finally:
        nvml.nvmlShutdown()


def describe_host(nvml: ModuleType | Any | None = None) -> HostDescription:
    if nvml is None:
        import pynvml

        nvml = pynvml
    cores, memory = cpu_and_memory(
        len(os.sched_getaffinity(0)), psutil.virtual_memory().total, cgroup_limits()
    )
    return HostDescription(cpu_cores=cores, memory_mib=memory, gpus=nvidia_gpus(nvml))
