"""The README's Notifications section stays true: every variable it lists is read by the
settings (and the other way round), and its receiver snippet accepts what we send."""

from __future__ import annotations

import inspect
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.notify.webhook import signature
from domain.jobs import Status
from domain.notify.model import Channel, JobChange, Notification
from domain.notify.render import compose
from entrypoints import settings

README = Path(__file__).parents[2] / "README.md"


def section() -> str:
    text = README.read_text()
    start = text.index("## Notifications")
    return text[start : text.index("\n## ", start + 1)]


def test_the_variables_table_is_what_the_settings_read() -> None:
    rows = [line for line in section().splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([A-Z_]+)`", row.split("|")[1])}
    source = inspect.getsource(settings.load_notify_settings)
    read = set(re.findall(r'"((?:EMAIL_SENDER|SMTP|JOBCLOUD)_[A-Z_]+)"', source))
    assert documented == read


def test_the_receiver_snippet_accepts_a_genuine_delivery_only() -> None:
    code = re.search(r"```python\n(import hashlib.*?)```", section(), re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)  # noqa: S102 (our own README)
    genuine = namespace["genuine"]
    change = JobChange(username="ada", job_id=1, job_name="fit", status=Status.FINISHED)
    n = Notification(Channel.WEBHOOK, "https://h.example.org", change, secret="s")
    body = json.dumps(compose(n, datetime.now(UTC)).document).encode()
    assert genuine(b"s", body, signature("s", body))
    assert not genuine(b"other", body, signature("s", body))
    old = json.dumps(compose(n, datetime.now(UTC) - timedelta(hours=1)).document).encode()
    assert not genuine(b"s", old, signature("s", old))
