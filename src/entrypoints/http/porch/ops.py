"""What an operator reads: tasks per pipeline and status, long-running tasks, recently failed
tasks; as JSON and as a small server-rendered page (no script, nothing fetched from outside)."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Annotated, Any

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, MediaType, get
from litestar.params import QueryParameter

from domain.pipelines.operations import OperatorReport, OperatorView
from domain.pipelines.porch import Task
from domain.pipelines.tokens import TokenGrant
from entrypoints.http.porch.docs import errors
from entrypoints.http.porch.wire import TaskOut, task_out

Seconds = Annotated[int, QueryParameter(ge=1, le=366 * 24 * 3600)]
Limit = Annotated[int, QueryParameter(ge=1, le=1000)]


class CountOut(msgspec.Struct):
    pipeline: str
    status: str
    count: int


class TaskSince(msgspec.Struct):
    task: TaskOut
    since: datetime | None


class OpsOut(msgspec.Struct):
    at: datetime
    running_for_seconds: int
    failed_within_seconds: int
    counts: list[CountOut]
    long_running: list[TaskSince]
    recently_failed: list[TaskSince]


def ops_out(report: OperatorReport) -> OpsOut:
    def since(tasks: list[Task]) -> list[TaskSince]:
        return [TaskSince(task_out(t), t.updated_at) for t in tasks]

    return OpsOut(
        report.at,
        int(report.running_for.total_seconds()),
        int(report.failed_within.total_seconds()),
        [CountOut(c.pipeline, c.status.value, c.count) for c in report.counts],
        since(report.long_running),
        since(report.recently_failed),
    )


class OpsController(Controller):
    path = "/ops"
    tags = ["porch: operators"]
    security = [{"PorchToken": []}]

    async def _report(
        self, view: OperatorView, grant: TokenGrant, running: int, failed: int, limit: int
    ) -> OpsOut:
        td = timedelta
        return ops_out(await view(grant, td(seconds=running), td(seconds=failed), limit))

    @get(
        ["/", ""],
        summary="Tasks per pipeline and status, long-running, recently failed (admin token)",
        responses=errors(400, 401, 403, 503),
    )
    async def summary(
        self,
        view: FromDishka[OperatorView],
        grant: FromDishka[TokenGrant],
        running_for: Seconds = 3600,
        failed_within: Seconds = 24 * 3600,
        limit: Limit = 100,
    ) -> OpsOut:
        return await self._report(view, grant, running_for, failed_within, limit)

    @get(
        "/page",
        media_type=MediaType.HTML,
        summary="The same, as an HTML page",
        responses=errors(400, 401, 403, 503),
    )
    async def page(
        self,
        view: FromDishka[OperatorView],
        grant: FromDishka[TokenGrant],
        running_for: Seconds = 3600,
        failed_within: Seconds = 24 * 3600,
        limit: Limit = 100,
    ) -> str:
        return render(await self._report(view, grant, running_for, failed_within, limit))


_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:0 0 2em}"
    "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
    "th{background:#f0f0f0}td.n{text-align:right}code{font-size:12px}"
)


def _table(caption: str, element_id: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    if not rows:
        rows = [["none", *[""] * (len(header) - 1)]]
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f'<h2>{escape(caption)}</h2><table id="{element_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _task_rows(items: list[TaskSince]) -> list[list[str]]:
    def text(value: Any) -> str:
        return escape(msgspec.json.encode(value).decode())

    return [
        [
            escape(i.task.pipeline.name),
            f"<code>{text(i.task.task_input)}</code>",
            escape(i.task.status.value),
            escape(i.since.isoformat(timespec="seconds") if i.since else ""),
        ]
        for i in items
    ]


def render(report: OpsOut) -> str:
    counts = [[escape(c.pipeline), escape(c.status), str(c.count)] for c in report.counts]
    header = ["pipeline", "task_input", "status", "since"]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>jobcloud porch: operators</title><style>{_STYLE}</style></head><body>"
        f"<h1>Pipelines and tasks</h1><p>at {escape(report.at.isoformat(timespec='seconds'))}</p>"
        + _table("Tasks per pipeline and status", "counts", ["pipeline", "status", "tasks"], counts)
        + _table(
            f"Claimed or running, unchanged for over {report.running_for_seconds} s",
            "long-running",
            header,
            _task_rows(report.long_running),
        )
        + _table(
            f"Failed in the last {report.failed_within_seconds} s",
            "recently-failed",
            header,
            _task_rows(report.recently_failed),
        )
        + "</body></html>"
    )
