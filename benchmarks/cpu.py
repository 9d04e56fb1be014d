"""Where the CPU went during a run: the server's process group, PostgreSQL, this client."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CpuTimes:
    server: float
    postgres: float
    client: float

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(
            self.server - other.server,
            self.postgres - other.postgres,
            self.client - other.client,
        )

    def describe(self, wall_s: float) -> str:
        """CPU seconds per wall second (2.0 = both cores busy)."""
        parts = [("server", self.server), ("postgres", self.postgres), ("client", self.client)]
        return ", ".join(f"{name} {value / wall_s:.2f}" for name, value in parts)


def _stat(pid: str) -> tuple[str, int, float] | None:
    """(comm, pgid, utime + stime seconds) of a live process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is state (field 3); pgrp is field 5, utime 14, stime 15
    return comm, int(fields[2]), (int(fields[11]) + int(fields[12])) / _TICK


def snapshot(server_pgid: int | None) -> CpuTimes:
    server = postgres = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        stat = _stat(pid)
        if stat is None:
            continue
        comm, pgid, seconds = stat
        if server_pgid is not None and pgid == server_pgid:
            server += seconds
        elif comm == "postgres":
            postgres += seconds
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    return CpuTimes(server, postgres, client)
