"""The words of a notification: a subject, plain text, HTML (every value escaped) and the
JSON document of a webhook. A missing value is left out, never printed as "None"."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.notify.model import Notification

MAX_DETAILS = 10_000  # characters of runtime_details put in a message
_TRUNCATED = "\n… (truncated)"


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str
    html: str
    document: dict[str, Any] = field(default_factory=dict)  # the webhook's JSON body


def _when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _one_line(text: str) -> str:
    """Header-safe: no line breaks can smuggle a header into a subject."""
    return " ".join(text.split())


def _details(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    if len(text) > MAX_DETAILS:
        return text[:MAX_DETAILS] + _TRUNCATED
    return text


def _facts(n: Notification) -> list[tuple[str, str]]:
    change = n.change
    rows: list[tuple[str, str | None]] = [
        ("Job", change.job_name),
        ("Job id", str(change.job_id)),
        ("Status", change.status.value),
        ("Created", _when(change.date_created)),
        ("Started", _when(change.date_started)),
        ("Finished", _when(change.date_finished)),
    ]
    return [(label, value) for label, value in rows if value]


def compose(n: Notification, now: datetime) -> Message:
    """The message telling `n`'s status change, as it is sent at `now`."""
    change = n.change
    details = _details(change.runtime_details)
    subject = _one_line(f"Job {change.job_name} (id={change.job_id}) {change.status.value}")
    facts = _facts(n)
    text_lines = [f"This is an update for job '{change.job_name}' (id={change.job_id}).", ""]
    text_lines += [f"{label}: {value}" for label, value in facts]
    if details:
        text_lines += ["", "Run-time details:", details]
    rows = "".join(
        f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in facts
    )
    parts = [
        f"<p>This is an update for job <b>{html.escape(change.job_name)}</b> "
        f"(id={html.escape(str(change.job_id))}).</p>",
        f"<table>{rows}</table>",
    ]
    if details:
        parts.append(f"<p>Run-time details:</p><pre>{html.escape(details)}</pre>")
    return Message(
        subject=subject,
        text="\n".join(text_lines) + "\n",
        html="<html><body>" + "".join(parts) + "</body></html>",
        document=_document(n, details, now),
    )


def _document(n: Notification, details: str | None, now: datetime) -> dict[str, Any]:
    change = n.change
    return {
        "event": "job.status",
        "delivery_id": n.key,
        "sent_at": _when(now),
        "username": change.username,
        "job_id": change.job_id,
        "job_name": change.job_name,
        "status": change.status.value,
        "date_created": _when(change.date_created),
        "date_started": _when(change.date_started),
        "date_finished": _when(change.date_finished),
        "runtime_details": details,
    }
