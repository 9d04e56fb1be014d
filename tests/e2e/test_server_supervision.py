"""`jobcloud serve`'s processes: one server per port, a crashed server process is replaced,
and killing the main process (even with SIGKILL) takes its server processes down."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_server_process import BIN, free_port, wait_ready


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    except OSError:
        return []


def server_processes(pid: int) -> list[int]:
    """The worker API's server processes under `serve`'s main process (not the user API's
    process beside them)."""
    return [child for child in children(pid) if "user" not in cmdline(child)]


def descendants(pid: int) -> list[int]:
    found = children(pid)
    for child in list(found):
        found.extend(descendants(child))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition: object, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def user_port() -> list[str]:
    return ["--user-port", str(free_port())]


def data(folder: Path) -> list[str]:
    return ["--data-dir", str(folder)]


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "FILESYSTEM"))}
    return subprocess.Popen(
        [str(BIN / "jobcloud"), "serve", "--port", str(port), *user_port(), *data(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    port = free_port()
    process = start(tmp_path / "data", port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield process, base, port
    finally:
        pids = descendants(process.pid)
        process.kill()
        process.wait()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_second_serve_on_the_same_port_is_refused(
    running: tuple[subprocess.Popen[str], str, int], tmp_path: Path
) -> None:
    _, _, port = running
    second = subprocess.run(
        [str(BIN / "jobcloud"), "serve", "--port", str(port), "--data-dir", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert second.returncode == 2
    assert f"--port {port}" in second.stderr
    assert "Traceback" not in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1


def test_a_killed_server_process_is_replaced_and_the_main_takes_its_children_down(
    running: tuple[subprocess.Popen[str], str, int],
) -> None:
    process, base, _ = running
    [first] = server_processes(process.pid)
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: server_processes(process.pid) not in ([], [first]))
    wait_ready(base, process)
    [second] = server_processes(process.pid)
    assert second != first
    assert httpx.get(f"{base}/health", timeout=5).status_code == 200
    # The user API's processes beside it: its main process and its server process.
    assert wait_until(lambda: len(descendants(process.pid)) >= 3)
    everyone = descendants(process.pid)

    process.kill()  # SIGKILL: granian's main process cannot pass anything on
    process.wait()
    assert wait_until(lambda: not any(alive(pid) for pid in everyone), timeout=30), (
        "an orphan process lives"
    )
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/health", timeout=2)
