"""Typed commands (app.command) run by a real `jobcloud worker`: no shell, ordered arguments,
inputs downloaded, outputs uploaded, stdin fed, stdout to a file."""

from __future__ import annotations

import sys

from tests.e2e.agent_support import (
    CONTAINER_ARGS,
    Deployment,
    busybox_image,
    deployment,
    finish,
    shared_deployment,
)

__all__ = ["deployment", "shared_deployment"]  # fixtures

SCRIPT = """
import sys
a = sys.argv[1:]
frames = open(a[a.index("--frames") + 1]).read()
label = a[a.index("--label") + 1]
with open(a[a.index("--result") + 1], "w") as out:
    out.write(frames + "|" + label + "|" + sys.stdin.read())
print("argv", len(a), a[0], a[-1])
"""


def test_a_typed_command_with_an_input_an_output_a_parameter_and_stdin(
    deployment: Deployment,
) -> None:
    deployment.put_input("alice/in/frames.txt", b"frames-data")
    injection = "a; touch pwned $(touch pwned2) `touch pwned3`"
    command = {
        "arguments": [
            {"type": "parameter", "value": sys.executable},
            {"type": "parameter", "value": "-c"},
            {"type": "parameter", "value": SCRIPT},
            {"type": "input", "name": "--frames", "value": "alice/in/frames.txt"},
            {"type": "output", "name": "--result", "value": "fit/result.txt"},
            {"type": "parameter", "name": "--label", "value": injection},
        ],
        "stdin": {"type": "pipe", "value": "from stdin\n"},
        "stdout": {"type": "file", "value": "stdout.txt"},
    }
    _, user_id = deployment.submit({"command": command})
    output = finish(deployment.worker("--once"))

    results = deployment.results(user_id)
    result = results / "output/fit/result.txt"
    assert result.is_file(), output
    assert result.read_text() == f"frames-data|{injection}|from stdin\n"
    assert (results / "output/stdout.txt").read_text() == f"argv 6 --frames {injection}\n"
    assert not list(deployment.work_dir.iterdir())  # no `pwned` anywhere: folder removed
    deployment.wait_status(user_id, "finished", 10)  # forwarded by the scheduler, after


def test_a_typed_command_that_writes_no_output_is_an_error(deployment: Deployment) -> None:
    command = {
        "arguments": [
            {"type": "parameter", "value": "true"},
            {"type": "output", "value": "missing.txt"},
        ]
    }
    _, user_id = deployment.submit({"command": command})
    finish(deployment.worker("--once"))

    error = deployment.wait_status(user_id, "error")
    assert "output 'outputs/missing.txt' was not written" in error["runtime_details"]


def test_a_typed_command_in_a_container_reads_a_stdin_file(deployment: Deployment) -> None:
    image = busybox_image(deployment.tmp)
    deployment.put_input("alice/in/words.txt", b"hello container\n")
    command = {
        "arguments": [
            {"type": "parameter", "value": "tr"},
            {"type": "parameter", "value": "a-z"},
            {"type": "parameter", "value": "A-Z"},
        ],
        "stdin": {"type": "file", "value": "alice/in/words.txt"},
        "stdout": {"type": "file", "value": "upper.txt"},
    }
    _, user_id = deployment.submit({"command": command}, image_url=image)
    output = finish(
        deployment.worker("--once", "--runtime", "podman", "--container-args", CONTAINER_ARGS),
        60,
    )
    upper = deployment.results(user_id) / "output/upper.txt"
    assert upper.is_file(), output
    assert upper.read_text() == "HELLO CONTAINER\n"
