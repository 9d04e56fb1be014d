"""The host's description: cgroup files (v1 and v2), NVML answers (a fake NVML module),
slot offers with the API's own parameter names."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from adapters.host import (
    MIB,
    cgroup_limits,
    cpu_and_memory,
    cpu_limit_v1,
    cpu_limit_v2,
    memory_limit,
    nvidia_gpus,
)
from domain.runs.host import Gpu, HostDescription, architecture, slot_offers


def test_cgroup_v2_files_parse() -> None:
    assert cpu_limit_v2("max 100000\n") is None
    assert cpu_limit_v2("150000 100000\n") == 1.5
    assert memory_limit("max\n") is None
    assert memory_limit("2147483648\n") == 2 * 1024**3


def test_cgroup_v1_files_parse() -> None:
    assert cpu_limit_v1("-1", "100000") is None
    assert cpu_limit_v1("200000", "100000") == 2
    assert memory_limit("9223372036854771712") is None  # v1's "unlimited"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_the_process_own_v2_cgroup_is_read(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "cgroup.controllers": "cpu memory",
            "cpu.max": "max 100000",
            "box/job/cpu.max": "250000 100000",
            "box/job/memory.max": str(3 * 1024**3),
        },
    )
    assert cgroup_limits(tmp_path, "0::/box/job\n") == (2.5, 3 * 1024**3)


def test_hybrid_v1_reads_each_controller_of_the_process(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "cpu/cpu.cfs_quota_us": "-1",
            "cpu/cpu.cfs_period_us": "100000",
            "memory/box/memory.limit_in_bytes": str(512 * MIB),
        },
    )
    proc_self = "4:memory:/box\n1:cpu,cpuacct:/\n0::/\n"
    assert cgroup_limits(tmp_path, proc_self) == (None, 512 * MIB)


def test_limits_cap_what_the_host_has() -> None:
    assert cpu_and_memory(16, 64 * 1024 * MIB, (2.5, 4096 * MIB)) == (2, 4096)
    assert cpu_and_memory(4, 8192 * MIB, (None, None)) == (4, 8192)
    assert cpu_and_memory(4, 8192 * MIB, (0.5, 10**15)) == (1, 8192)


class FakeNvml:
    """NVML's Python surface, answering for two GPUs."""

    def __init__(self, gpus: list[dict[str, Any]], fail_init: bool = False) -> None:
        self.gpus, self.fail_init, self.shut = gpus, fail_init, False

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlShutdown(self) -> None:
        self.shut = True

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> dict[str, Any]:
        return self.gpus[index]

    def nvmlDeviceGetName(self, handle: dict[str, Any]) -> Any:
        return handle["name"]

    def nvmlDeviceGetMemoryInfo(self, handle: dict[str, Any]) -> Any:
        return SimpleNamespace(total=handle["memory"], free=0, used=0)

    def nvmlDeviceGetCudaComputeCapability(self, handle: dict[str, Any]) -> tuple[int, int]:
        return handle["cc"]

    def nvmlDeviceGetUUID(self, handle: dict[str, Any]) -> Any:
        return handle["uuid"]


def test_every_gpu_is_described_through_nvml() -> None:
    nvml = FakeNvml(
        [
            {"name": b"NVIDIA A100-SXM4-40GB", "memory": 40 * 1024**3, "cc": (8, 0), "uuid": "G0"},
            {"name": "NVIDIA GeForce RTX 3090", "memory": 24 * 1024**3, "cc": (8, 6), "uuid": "G1"},
        ]
    )
    assert nvidia_gpus(nvml) == (
        Gpu(0, "NVIDIA A100-SXM4-40GB", 40 * 1024, "ampere", "G0"),
        Gpu(1, "NVIDIA GeForce RTX 3090", 24 * 1024, "ampere", "G1"),
    )
    assert nvml.shut


def test_no_nvml_means_no_gpu() -> None:
    assert nvidia_gpus(FakeNvml([], fail_init=True)) == ()


@pytest.mark.parametrize(
    ("capability", "name"),
    [
        ((7, 0), "volta"),
        ((7, 5), "turing"),
        ((8, 6), "ampere"),
        ((8, 9), "ada"),
        ((9, 0), "hopper"),
    ],
)
def test_architecture_names(capability: tuple[int, int], name: str) -> None:
    assert architecture(*capability) == name


def test_each_gpu_serves_one_slot_and_the_offer_uses_the_api_names() -> None:
    host = HostDescription(8, 32000, (Gpu(0, "A100", 40960, "ampere"), Gpu(1, "T4", 15360)))
    first, second, third = slot_offers(host, 3, groups=("lab",), older_than=60)
    assert first.params() == {
        "cpu_cores": 2,
        "memory": 10666,
        "older_than": 60,
        "gpu_model": "A100",
        "gpu_mem": 40960,
        "gpu_archi": "ampere",
        "groups": ["lab"],
    }
    assert second.gpu is not None
    assert second.gpu.index == 1
    assert "gpu_archi" not in second.params()
    assert third.gpu is None
    assert "gpu_mem" not in third.params()


def test_the_measured_host_can_be_overridden() -> None:
    host = HostDescription(8, 32000).override(cpu_cores=2)
    assert (host.cpu_cores, host.memory_mib) == (2, 32000)
