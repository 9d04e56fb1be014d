"""The worker agent's own cost: pull -> finished of a no-op job (native and podman), and
jobs/s with 1 and 4 slots. A real `jobcloud serve` (SQLite) and real `jobcloud worker`
processes; per-job times come from the agent's own event lines (pulled ... finished).

    uv run python -m benchmarks.agent_overhead --jobs 30 --podman-jobs 10
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from benchmarks.harness import Server, fresh_backend

CONTAINER_ARGS = "--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
IMAGE = "localhost/jobcloud-busybox:bench"
EVENT = re.compile(r"^(\S+ \S+) INFO jobcloud\.worker: slot \d+ job (\d+): (pulled|finished)")


def submit(server: Server, count: int, image: str) -> None:
    body = {
        "job": {
            "app": {"cmd": ["true"]},
            "handler": {"image_url": image, "files_up": {"output": "out", "log": "log"}},
            "meta": {"job_id": 1, "date_created": "2026-11-30T00:00:00"},
        },
        "paths_upload": {"output": "b/out", "log": "b/log", "artifact": "b/art"},
    }
    base = f"http://127.0.0.1:{server.port}"
    with httpx.Client(base_url=base, headers={"x-api-key": server.api_key}) as http:
        for i in range(count):
            body["job"]["meta"]["job_id"] = i + 1  # type: ignore[index]
            http.post("/_jobs", json=body).raise_for_status()


def run_worker(server: Server, slots: int, runtime: str) -> tuple[list[float], float, int]:
    """(per-job seconds pulled -> finished, wall seconds first pull -> last finish, jobs)."""
    exe = Path(sys.executable).with_name("jobcloud")
    work = Path(tempfile.mkdtemp(prefix="jobcloud-bench-work-"))
    args = [str(exe), "worker", "--api-url", f"http://127.0.0.1:{server.port}"]
    args += ["--data-dir", str(server.backend.data_dir), "--work-dir", str(work)]
    args += ["--slots", str(slots), "--idle-limit", "1.5", "--poll-interval", "0.05"]
    args += ["--keepalive-interval", "10", "--runtime", runtime]
    if runtime != "native":
        args += ["--network", "none", "--container-args", CONTAINER_ARGS]
    env = {k: v for k, v in os.environ.items() if k != "JOBCLOUD_DATA_DIR"}
    try:
        output = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pulled: dict[str, datetime] = {}
    spans, first, last = [], None, None
    for line in output.stderr.splitlines():
        match = EVENT.match(line)
        if not match:
            continue
        at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")
        if match[3] == "pulled":
            pulled[match[2]] = at
            first = first or at
        else:
            spans.append((at - pulled[match[2]]).total_seconds())
            last = at
    wall = (last - first).total_seconds() if first and last else 0.0
    return spans, wall, len(spans)


def make_image() -> bool:
    podman, busybox = shutil.which("podman"), shutil.which("busybox")
    if not podman or not busybox:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = Path(tmp, "rootfs", "bin")
        rootfs.mkdir(parents=True)
        shutil.copy(busybox, rootfs / "busybox")
        for name in ("sh", "true"):
            (rootfs / name).symlink_to("busybox")
        archive = Path(tmp, "rootfs.tar")
        subprocess.run(["tar", "-C", str(rootfs.parent), "-cf", str(archive), "."], check=True)
        subprocess.run([podman, "import", str(archive), IMAGE], check=True, capture_output=True)
    return True


def report(label: str, spans: list[float], wall: float, jobs: int) -> None:
    if not spans:
        print(f"{label:<24} no job finished")
        return
    ordered = sorted(spans)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    rate = jobs / wall if wall else float("nan")
    print(
        f"{label:<24} jobs {jobs:>3}  pull->finished p50 {statistics.median(spans) * 1000:6.0f} ms"
        f"  p90 {p90 * 1000:6.0f} ms  jobs/s {rate:5.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--podman-jobs", type=int, default=10)
    args = parser.parse_args()
    started = time.monotonic()
    with fresh_backend("sqlite") as backend, Server(backend) as server:
        for label, slots in (("native, 1 slot", 1), ("native, 4 slots", 4)):
            submit(server, args.jobs, IMAGE)
            report(label, *run_worker(server, slots, "native"))
        if args.podman_jobs and make_image():
            submit(server, args.podman_jobs, IMAGE)
            report("podman, 1 slot", *run_worker(server, 1, "podman"))
        elif args.podman_jobs:
            print("podman: not installed, skipped")
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
