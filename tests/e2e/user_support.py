"""The user API beside the worker API on one embedded deployment, for tests."""

from __future__ import annotations

from pathlib import Path

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
