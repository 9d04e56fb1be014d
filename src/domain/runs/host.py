"""What a worker offers: its host's description, per slot, in the API's own terms."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class Gpu:
    index: int
    model: str
    memory_mib: int
    archi: str | None = None  # e.g. "ampere", from the compute capability
    uuid: str | None = None


@dataclass(frozen=True, slots=True)
class HostDescription:
    cpu_cores: int
    memory_mib: int
    gpus: tuple[Gpu, ...] = ()

    def override(
        self, cpu_cores: int | None = None, memory_mib: int | None = None
    ) -> HostDescription:
        return replace(
            self,
            cpu_cores=cpu_cores if cpu_cores is not None else self.cpu_cores,
            memory_mib=memory_mib if memory_mib is not None else self.memory_mib,
        )


@dataclass(frozen=True, slots=True)
class SlotOffer:
    """What one slot asks GET /jobs for (the API's parameter names), and its GPU."""

    cpu_cores: int
    memory: int
    gpu: Gpu | None = None
    groups: tuple[str, ...] = ()
    older_than: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str | int | list[str]]:
        params: dict[str, str | int | list[str]] = {
            "cpu_cores": self.cpu_cores,
            "memory": self.memory,
            "older_than": self.older_than,
        }
        if self.gpu is not None:
            params["gpu_model"] = self.gpu.model
            params["gpu_mem"] = self.gpu.memory_mib
            if self.gpu.archi:
                params["gpu_archi"] = self.gpu.archi
        if self.groups:
            params["groups"] = list(self.groups)
        return params


def slot_offers(
    host: HostDescription, slots: int, groups: tuple[str, ...] = (), older_than: int = 0
) -> list[SlotOffer]:
    """Share the host: CPU and memory split evenly; with GPUs, each GPU serves one slot
    (a slot without a GPU of its own offers none)."""
    slots = max(1, slots)
    cpu = max(1, host.cpu_cores // slots)
    memory = max(1, host.memory_mib // slots)
    return [
        SlotOffer(
            cpu_cores=cpu,
            memory=memory,
            gpu=host.gpus[i] if i < len(host.gpus) else None,
            groups=groups,
            older_than=older_than,
        )
        for i in range(slots)
    ]


_ARCHITECTURES = {
    3: "kepler",
    5: "maxwell",
    6: "pascal",
    7: "volta",
    8: "ampere",
    9: "hopper",
    10: "blackwell",
    12: "blackwell",
}


def architecture(major: int, minor: int) -> str:
    """NVIDIA's architecture name from a CUDA compute capability."""
    if (major, minor) == (7, 5):
        return "turing"
    if (major, minor) in ((8, 9),):
        return "ada"
    return _ARCHITECTURES.get(major, f"sm_{major}{minor}")
