"""POST /_jobs accepts and validates typed commands (app.command) and the run timeout;
workers receive them back as submitted."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import TokenFactory
from tests.e2e.jobs import submitted

Client = AsyncTestClient[Litestar]

COMMAND = {
    "arguments": [
        {"type": "parameter", "value": "segment", "name": None},
        {"type": "input", "value": "alice/in/img.tif", "name": "--image"},
        {"type": "output", "value": "masks/mask.png", "name": "-o"},
    ],
    "stdin": {"type": "pipe", "value": "threshold=3"},
    "stdout": {"type": "file", "value": "report.txt"},
    "stderr": None,
}


def typed(command: dict[str, Any], **hardware: Any) -> dict[str, Any]:
    body = submitted(hardware=hardware)
    body["job"]["app"] = {"command": command}
    return body


async def test_a_typed_command_and_a_timeout_reach_the_worker_as_submitted(
    client: Client, internal: dict[str, str], auth: TokenFactory
) -> None:
    created = await client.post("/_jobs", json=typed(COMMAND, timeout=120), headers=internal)
    assert created.status_code == 201, created.text
    jobs = (await client.get("/jobs", headers=auth("box-1"))).json()
    (spec,) = jobs.values()
    assert spec["app"]["command"] == COMMAND
    assert spec["app"]["cmd"] is None
    assert spec["hardware"]["timeout"] == 120


async def test_a_worker_may_download_the_inputs_of_a_typed_command(
    client: Client, internal: dict[str, str], auth: TokenFactory
) -> None:
    await client.post("/_jobs", json=typed(COMMAND), headers=internal)
    await client.get("/jobs", headers=auth("box-2"))
    grant = await client.get("/files/alice/in/img.tif/url", headers=auth("box-2"))
    assert grant.status_code != 403, grant.text  # an input of a job it holds (404: no file)


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({"arguments": []}, "arguments"),
        ({"arguments": [{"type": "script", "value": "x"}]}, "type"),
        ({"arguments": [{"type": "output", "value": "../../etc/passwd"}]}, "arguments[0].value"),
        ({"arguments": [{"type": "output", "value": "/abs"}]}, "arguments[0].value"),
        (
            {
                "arguments": [{"type": "parameter", "value": "x"}],
                "stdout": {"type": "file", "value": ".."},
            },
            "stdout",
        ),
        ({"arguments": [{"type": "parameter", "value": 3}]}, "value"),
        (
            {
                "arguments": [{"type": "parameter", "value": "x"}],
                "stdin": {"type": "tty", "value": ""},
            },
            "stdin",
        ),
    ],
)
async def test_bad_typed_commands_get_a_clear_4xx_naming_the_field(
    client: Client, internal: dict[str, str], command: dict[str, Any], field: str
) -> None:
    response = await client.post("/_jobs", json=typed(command), headers=internal)
    assert response.status_code in (400, 422), response.text
    assert field in response.text


async def test_a_bad_timeout_is_refused(client: Client, internal: dict[str, str]) -> None:
    body = submitted(hardware={"timeout": 0})
    response = await client.post("/_jobs", json=body, headers=internal)
    assert response.status_code == 400
    assert "timeout" in response.text
