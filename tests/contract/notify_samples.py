"""Sample notifications for the notifier tests: values that must be escaped in HTML."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.jobs import Status
from domain.notify.model import Channel, JobChange, Notification

SENDER = "jobcloud@lab.example.org"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EVIL = "<script>alert('x')</script>"


def change(**kw: object) -> JobChange:
    values: dict[str, object] = {
        "username": "ada",
        "job_id": 42,
        "job_name": f"fit {EVIL}",
        "status": Status.ERROR,
        "date_created": T0,
        "runtime_details": f"failed: {EVIL} & more",
        **kw,
    }
    return JobChange(**values)  # type: ignore[arg-type]


def mail(address: str = "ada@example.org") -> Notification:
    return Notification(Channel.EMAIL, address, change())
