"""Job documents as the DECODE user API submits them."""

from __future__ import annotations

import itertools
from typing import Any

_user_ids = itertools.count(1000)


def submitted(
    *,
    files_down: dict[str, str] | None = None,
    hardware: dict[str, Any] | None = None,
    environment: str | None = None,
    group: str | None = None,
    priority: int = 5,
    root: str = "",
    user_job_id: int | None = None,
) -> dict[str, Any]:
    user_job_id = next(_user_ids) if user_job_id is None else user_job_id
    prefix = f"{root}/" if root else ""
    return {
        "job": {
            "app": {"cmd": ["decode", "fit"], "env": {"SEED": "1"}},
            "handler": {
                "image_url": "registry.example/decode:0.10",
                "files_down": files_down or {},
                "files_up": {"output": "out", "log": "log", "artifact": "art"},
            },
            "meta": {
                "job_id": user_job_id,
                "date_created": "2026-11-22T10:00:00",
                "user": "alice",
            },
            "hardware": hardware or {},
        },
        "environment": environment,
        "group": group,
        "priority": priority,
        "paths_upload": {
            "output": f"{prefix}alice/jobs/{user_job_id}/output",
            "log": f"{prefix}alice/jobs/{user_job_id}/log",
            "artifact": f"{prefix}alice/jobs/{user_job_id}/artifact",
        },
    }
