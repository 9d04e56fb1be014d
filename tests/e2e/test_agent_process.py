"""`jobcloud serve` + `jobcloud worker` as real processes: DECODE jobs end to end."""

from __future__ import annotations

import os
import pty
import signal
import threading
import time
from pathlib import Path

from tests.contract.userapi_server import Recorded
from tests.e2e.agent_support import (
    CONTAINER_ARGS,
    Deployment,
    busybox_image,
    deployment,
    eventually,
    finish,
    running_deployment,
    shared_deployment,
)

__all__ = ["deployment", "shared_deployment"]  # fixtures

FILES_UP = {"output": "out", "log": "log", "artifact": "art"}


def shell(line: str) -> dict[str, object]:
    return {"cmd": line.split(" "), "env": {"GREETING": "hello"}}


def test_inputs_are_read_and_outputs_and_logs_land_where_decode_puts_them(
    deployment: Deployment,
) -> None:
    frames = os.urandom(3 * 1024 * 1024 + 17)
    deployment.put_input("alice/in/frames.bin", frames)
    deployment.put_input("alice/in/param.yaml", b"threshold: 3\n")
    _, user_id = deployment.submit(
        shell(
            "cp in/frames.bin out/copy.bin && mkdir -p out/fit && cat param/p.yaml > out/fit/p.txt"
            " && echo $GREETING from the job && echo warning >&2 && echo note > log/app.log"
        ),
        files_down={"in/frames.bin": "alice/in/frames.bin", "param/p.yaml": "alice/in/param.yaml"},
        files_up=FILES_UP,
    )
    output = finish(deployment.worker("--once"))

    results = deployment.results(user_id)
    assert (results / "output/out/copy.bin").read_bytes() == frames, output
    assert (results / "output/out/fit/p.txt").read_bytes() == b"threshold: 3\n"
    assert (results / "log/log/app.log").read_text() == "note\n"
    assert (results / "log/stdout.log").read_text() == "hello from the job\n"
    assert (results / "log/stderr.log").read_text() == "warning\n"
    deployment.wait_status(user_id, "finished", 10)  # forwarded by the scheduler, after
    statuses = [u["status"] for u in deployment.statuses(user_id)]
    # In order; the scheduler may coalesce steps the user side loses nothing by (the first
    # `pulled` and the terminal status always reach it).
    lifecycle = ["pulled", "preprocessing", "running", "postprocessing", "finished"]
    assert statuses[0] == "pulled", statuses
    assert statuses[-1] == "finished", statuses
    assert statuses == sorted(set(statuses), key=lifecycle.index), statuses
    assert not list(deployment.work_dir.iterdir())  # the job folder is gone


def test_a_failing_job_is_an_error_with_its_exit_code_and_log_tail(deployment: Deployment) -> None:
    _, user_id = deployment.submit(
        shell("echo computing && echo 'bad input: frame 7' >&2 && exit 3"), files_up=FILES_UP
    )
    finish(deployment.worker("--once"))

    error = deployment.wait_status(user_id, "error")
    assert "exit_code: 3" in error["runtime_details"]
    assert "bad input: frame 7" in error["runtime_details"]
    results = deployment.results(user_id)
    assert (results / "log/stderr.log").read_text() == "bad input: frame 7\n"
    assert (results / "log/stdout.log").read_text() == "computing\n"


def test_a_job_canceled_while_running_is_killed_and_nothing_more_is_uploaded(
    deployment: Deployment, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    canceled: set[int] = set()

    def user_side(request: Recorded, index: int) -> tuple[int, str]:
        body = request.json()
        if body["status"] == "running" and body["job_id"] in canceled:
            return 404, '{"detail": "job deleted"}'  # the user deleted it: cancel
        return 204, ""

    deployment.user_api.script = user_side
    _, user_id = deployment.submit(
        # ignores SIGTERM: only the SIGKILL after the grace period ends it
        shell(f"trap '' TERM; echo $$ > {pid_file}; sleep 60; echo late > out/late.txt"),
        files_up=FILES_UP,
    )
    canceled.add(user_id)
    worker = deployment.worker("--once", "--kill-grace", "1")
    eventually(pid_file.exists, 15, "the job to start")
    pid = int(pid_file.read_text())
    started = time.monotonic()
    output = finish(worker, 20)
    eventually(lambda: not _alive(pid), 5, "the job's process to be gone")
    assert time.monotonic() - started < 15, output  # keep-alive 0.3 s + grace 1 s + sweep
    assert "canceled" in output
    results = deployment.results(user_id)
    assert not (results / "log").exists(), output
    assert not (results / "output").exists(), output
    assert not list(deployment.work_dir.iterdir())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def test_keep_alives_hold_the_lease_of_a_run_longer_than_three_timeouts(
    deployment: Deployment,
) -> None:
    # TIMEOUT_FAILURE is 2 s: the run takes 6.5 s, over three times as long.
    _, user_id = deployment.submit(shell("sleep 6.5 && echo done > out/r.txt"), files_up=FILES_UP)
    finish(deployment.worker("--once"), 30)

    deployment.wait_status(user_id, "finished", 10)  # forwarded by the scheduler, after
    statuses = [u["status"] for u in deployment.statuses(user_id)]
    assert statuses[-1] == "finished", statuses
    assert "queued" not in statuses  # the lease never expired
    assert (deployment.results(user_id) / "output/out/r.txt").read_text() == "done\n"


def test_a_run_over_its_time_limit_is_stopped_and_reported(deployment: Deployment) -> None:
    _, user_id = deployment.submit(
        shell("echo started && sleep 60"), files_up=FILES_UP, hardware={"timeout": 1}
    )
    started = time.monotonic()
    finish(deployment.worker("--once"), 30)

    error = deployment.wait_status(user_id, "error")
    assert "run timeout" in error["runtime_details"]
    assert "started" in error["runtime_details"]
    assert time.monotonic() - started < 25  # not the 60 s of the job


def test_two_slots_run_two_jobs_at_once(deployment: Deployment) -> None:
    line = "date +%s.%N > out/start && sleep 2 && date +%s.%N > out/end"
    jobs = [deployment.submit(shell(line), files_up=FILES_UP)[1] for _ in range(2)]
    finish(deployment.worker("--slots", "2", "--idle-limit", "1"), 40)

    spans = []
    for user_id in jobs:
        deployment.wait_status(user_id, "finished", 5)
        out = deployment.results(user_id) / "output/out"
        spans.append((float((out / "start").read_text()), float((out / "end").read_text())))
    (start_a, end_a), (start_b, end_b) = spans
    assert start_a < end_b, spans  # the runs overlapped
    assert start_b < end_a, spans


def test_the_api_restarted_under_a_running_job(tmp_path: Path) -> None:
    with running_deployment(tmp_path, timeout_failure=40) as deployment:
        _restart_under_a_job(deployment)


def _restart_under_a_job(deployment: Deployment) -> None:
    _, user_id = deployment.submit(shell("sleep 4 && echo ok > out/r.txt"), files_up=FILES_UP)
    worker = deployment.worker("--once")
    deployment.wait_status(user_id, "running", 15)
    deployment.crash_server()
    time.sleep(1.5)  # keep-alives fail meanwhile; the job goes on
    # (the restart itself takes seconds on a busy machine: TIMEOUT_FAILURE is 40 s here)
    deployment.start_server()
    output = finish(worker, 40)

    result = deployment.results(user_id) / "output/out/r.txt"
    assert result.is_file(), output
    assert result.read_text() == "ok\n"
    deployment.wait_status(user_id, "finished", 5)


def test_the_same_job_in_a_podman_container(deployment: Deployment) -> None:
    image = busybox_image(deployment.tmp)
    data = os.urandom(256 * 1024)
    deployment.put_input("alice/in/data.bin", data)
    _, user_id = deployment.submit(
        shell("cp in/data.bin out/copy.bin && echo $GREETING in $(pwd) && ls /files"),
        files_down={"in/data.bin": "alice/in/data.bin"},
        files_up=FILES_UP,
        image_url=image,
        hardware={"memory": 256, "cpu_cores": 1},
    )
    output = finish(
        deployment.worker(
            "--once",
            "--runtime",
            "podman",
            "--network",
            "none",
            "--container-args",
            CONTAINER_ARGS,
        ),
        60,
    )
    results = deployment.results(user_id)
    assert (results / "output/out/copy.bin").read_bytes() == data, output
    stdout = (results / "log/stdout.log").read_text()
    assert stdout.startswith("hello in /files\n"), stdout
    assert "in\nlog\nout" in stdout.replace("art\n", "")
    deployment.wait_status(user_id, "finished", 10)  # forwarded by the scheduler, after


def test_a_missing_input_is_an_error_with_the_reason(deployment: Deployment) -> None:
    _, user_id = deployment.submit(
        shell("cat in/x.bin"),
        files_down={"in/x.bin": "alice/in/never-uploaded.bin"},
        files_up=FILES_UP,
    )
    finish(deployment.worker("--once"))

    error = deployment.wait_status(user_id, "error")
    assert "download of 'alice/in/never-uploaded.bin'" in error["runtime_details"]
    assert "not found" in error["runtime_details"]


def test_sigterm_stops_pulling_and_lets_the_running_job_finish(deployment: Deployment) -> None:
    _, first = deployment.submit(shell("sleep 2 && echo ok > out/r.txt"), files_up=FILES_UP)
    worker = deployment.worker("--drain-timeout", "60")
    deployment.wait_status(first, "running", 20)
    _, second = deployment.submit(shell("true"), files_up=FILES_UP)
    worker.send_signal(signal.SIGTERM)
    output = finish(worker, 30)

    assert deployment.wait_status(first, "finished", 5)
    assert (deployment.results(first) / "output/out/r.txt").read_text() == "ok\n"
    assert deployment.statuses(second) == [], output  # never pulled
    assert "no more pulls" in output
    # the next worker takes the job left in the queue
    finish(deployment.worker("--once"))
    deployment.wait_status(second, "finished", 5)


def test_after_the_drain_timeout_running_jobs_are_stopped_and_requeued(
    deployment: Deployment, tmp_path: Path
) -> None:
    pid_file = tmp_path / "drained-pid"
    _, user_id = deployment.submit(shell(f"echo $$ > {pid_file}; sleep 60"), files_up=FILES_UP)
    worker = deployment.worker("--drain-timeout", "0.5")
    deployment.wait_status(user_id, "running", 20)
    eventually(pid_file.exists, 10, "the job to start")
    worker.send_signal(signal.SIGTERM)
    output = finish(worker, 30)

    assert "drain over" in output
    eventually(lambda: not _alive(int(pid_file.read_text())), 5, "the job's process to end")
    # left to lease expiry: the API puts it back in the queue (TIMEOUT_FAILURE is 2 s)
    deployment.wait_status(user_id, "queued", 15)
    finish(deployment.worker("--once", "--run-timeout", "1"), 30)  # clears the queue


def test_on_a_terminal_the_agent_shows_live_lines_and_still_runs_the_job(
    deployment: Deployment,
) -> None:
    deployment.put_input("alice/in/tty.bin", os.urandom(2 * 1024 * 1024))
    _, user_id = deployment.submit(
        shell("cp in/tty.bin out/copy.bin"),
        files_down={"in/tty.bin": "alice/in/tty.bin"},
        files_up=FILES_UP,
    )
    primary, secondary = pty.openpty()
    screen = bytearray()
    reader = threading.Thread(target=_drain_pty, args=(primary, screen), daemon=True)
    reader.start()
    try:
        worker = deployment.worker("--once", stderr=secondary)
        finish(worker, 30)
    finally:
        os.close(secondary)
        reader.join(timeout=5)
        os.close(primary)
    text = screen.decode(errors="replace")
    assert "slot 0 job" in text  # rich's live lines, on the terminal
    assert "\x1b[" in text  # drawn with terminal escapes, not plain log lines
    copy = deployment.results(user_id) / "output/out/copy.bin"
    assert copy.stat().st_size == 2 * 1024 * 1024
    deployment.wait_status(user_id, "finished", 10)  # forwarded by the scheduler, after


def _drain_pty(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        into.extend(chunk)
