"""The user API beside the worker API on one embedded deployment, for tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.contract.smtp_server import SmtpServer

CATALOGUE = """\
decode:
  v0_10_1:
    train:
      app:
        cmd: ["decode", "train", "--config", "config/param.yaml"]
        env: ["SEED", "EPOCHS"]
      handler:
        image_url: "registry.example/decode:0.10.1"
        files_down: {config_id: config, data_ids: data, artifact_ids: artifact}
        files_up: {output: out, log: log, artifact: model}
      aws_resources:
        hardware: {cpu_cores: 2, memory: 8000, gpu_model: null}
        timeout: 3600
    fit:
      app:
        cmd: ["decode", "fit"]
      handler:
        image_url: "registry.example/decode:0.10.1"
        files_down: {config_id: config, data_ids: data, artifact_ids: model}
        files_up: {output: out, log: log}
"""


def write_catalogue(folder: Path, text: str = CATALOGUE) -> Path:
    path = folder / "applications.yaml"
    path.write_text(text)
    return path


def job_body(
    name: str = "train-1",
    *,
    config: str | None = "config/exp1",
    data: list[str] | None = None,
    entrypoint: str = "train",
    env: dict[str, str] | None = None,
    hardware: dict[str, object] | None = None,
) -> dict[str, object]:
    return {
        "job_name": name,
        "environment": "any",
        "priority": 3,
        "application": {"application": "decode", "version": "v0_10_1", "entrypoint": entrypoint},
        "attributes": {
            "files_down": {"config_id": config, "data_ids": data, "artifact_ids": None},
            "env_vars": env or {},
        },
        "hardware": hardware,
    }


def notify_env(smtp: SmtpServer) -> dict[str, str]:
    """Variables of a server process that mails through `smtp` and may call webhooks on
    127.0.0.1 (the tests' receivers), polling its notification outbox often."""
    return {
        "EMAIL_SENDER_SERVICE": "smtp",
        "EMAIL_SENDER_ADDRESS": "jobcloud@lab.example.org",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "0",
        "JOBCLOUD_NOTIFY_INTERVAL": "0.2",
        "JOBCLOUD_WEBHOOK_ALLOW_PRIVATE": "1",
    }


def wait_for(what: str, ready: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll `ready` until it is true; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.1)
