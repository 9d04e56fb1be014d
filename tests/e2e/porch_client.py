"""The requests npg_porch_cli (its `PorchRequest.send`) makes, built the way it builds them:
relative paths joined onto the base URL with urljoin, `Authorization: Bearer <token>` on
every call and `Content-Type: application/json` on all but the listings, the pipeline
`{name, uri, version}` as the body of claims, the OpenAPI document fetched (without a token)
to check a status against `TaskStateEnum` before an update."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

ACTIONS = {
    "list_tasks": "tasks",
    "list_pipelines": "pipelines",
    "add_pipeline": "pipelines",
    "add_task": "tasks",
    "claim_task": "tasks/claim",
    "update_task": "tasks",
}


class InvalidStatus(Exception):
    pass


@dataclass
class PorchCli:
    http: httpx.Client
    base_url: str  # e.g. http://127.0.0.1:8000/porch/ (the user API's port)
    token: str
    name: str | None = None
    uri: str | None = None
    version: str | None = None

    def send(
        self, action: str, task_input: dict[str, Any] | None = None, status: str | None = None
    ) -> httpx.Response:
        if status is not None:
            status = self.validate_status(status)
        pipeline = {"name": self.name, "uri": self.uri, "version": self.version}
        method, data = "GET", None
        if action == "update_task":
            method, data = "PUT", {"pipeline": pipeline, "task_input": task_input, "status": status}
        elif not action.startswith("list"):
            method = "POST"
            data = (
                {"pipeline": pipeline, "task_input": task_input}
                if action == "add_task"
                else pipeline
            )
        headers = {"Authorization": "Bearer " + self.token}
        if not action.startswith("list"):
            headers["Content-Type"] = "application/json"
        url = urljoin(self.base_url, ACTIONS[action])
        return self.http.request(method, url, headers=headers, json=data)

    def validate_status(self, status: str) -> str:
        document = self.http.get(urljoin(self.base_url, "api/v1/openapi.json"))
        document.raise_for_status()
        allowed = document.json()["components"]["schemas"]["TaskStateEnum"]["enum"]
        if status.upper() not in allowed:
            raise InvalidStatus(status)
        return status.upper()
