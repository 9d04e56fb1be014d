"""Notifications: when one is due, to whom, and its words (escaped, no "None")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidInput
from domain.jobs import Status
from domain.notify.model import Channel, JobChange, NotifyPolicy, Recipients, notifications_for
from domain.notify.render import MAX_DETAILS, compose

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WHO = Recipients(email="ada@example.org", webhook_url="https://h.example.org/x", webhook_secret="k")


def change(status: Status = Status.FINISHED, **kw: object) -> JobChange:
    values: dict[str, object] = {"username": "ada", "job_id": 42, "job_name": "fit", **kw}
    return JobChange(status=status, **values)  # type: ignore[arg-type]


# -- when ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status))
def test_by_default_only_finished_and_error_are_told(status: Status) -> None:
    due = notifications_for(change(status), WHO, NotifyPolicy())
    assert bool(due) is (status in {Status.FINISHED, Status.ERROR})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("finished,error", {Status.FINISHED, Status.ERROR}),
        (" Finished , RUNNING ", {Status.FINISHED, Status.RUNNING}),
        ("all", set(Status)),
        ("ALL", set(Status)),
    ],
)
def test_the_statuses_told_are_configurable(text: str, expected: set[Status]) -> None:
    assert NotifyPolicy.parse_statuses(text) == expected


@pytest.mark.parametrize(("text", "bad"), [("finished,done", "'done'"), (",", "no status")])
def test_an_unknown_status_is_named(text: str, bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        NotifyPolicy.parse_statuses(text)


def test_every_status_when_configured_so() -> None:
    policy = NotifyPolicy(statuses=NotifyPolicy.parse_statuses("all"))
    assert all(notifications_for(change(s), WHO, policy) for s in Status)


# -- to whom ------------------------------------------------------------------------------


def test_one_notification_per_channel_with_an_address() -> None:
    due = notifications_for(change(), WHO, NotifyPolicy())
    assert [(n.channel, n.address, n.secret) for n in due] == [
        (Channel.EMAIL, "ada@example.org", None),
        (Channel.WEBHOOK, "https://h.example.org/x", "k"),
    ]
    assert [n.key for n in due] == ["42.finished.email", "42.finished.webhook"]
    assert notifications_for(change(), Recipients(), NotifyPolicy()) == []
    only_mail = notifications_for(change(), Recipients(email="a@b.org"), NotifyPolicy())
    assert [n.channel for n in only_mail] == [Channel.EMAIL]


def test_no_email_when_no_sender_is_configured() -> None:
    policy = NotifyPolicy(channels=frozenset({Channel.WEBHOOK}))
    assert [n.channel for n in notifications_for(change(), WHO, policy)] == [Channel.WEBHOOK]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@b.org\r\nBcc: x@y.org"}, "email"),
        ({"email": "a@b.org, c@d.org"}, "email"),
        ({"webhook_url": "ftp://h/x"}, "webhook_url"),
        ({"webhook_url": "javascript:alert(1)"}, "webhook_url"),
        ({"webhook_url": "https://h/x y"}, "webhook_url"),
    ],
)
def test_bad_addresses_are_refused_naming_the_field(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        Recipients(**kwargs)


# -- words --------------------------------------------------------------------------------


def test_every_value_is_html_escaped() -> None:
    evil = change(
        job_name="<script>alert('x')</script>&",
        runtime_details="<img src=x onerror=alert(1)>\n\"quoted\" & 'single'",
        date_created=T0,
    )
    [mail, _] = notifications_for(evil, WHO, NotifyPolicy())
    message = compose(mail, T0)
    assert "<script>" not in message.html
    assert "<img" not in message.html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;" in message.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in message.html
    assert "&quot;quoted&quot; &amp; &#x27;single&#x27;" in message.html
    # The plain text part is not HTML: it keeps the characters as they are.
    assert "<script>alert('x')</script>&" in message.text


def test_missing_values_are_left_out_never_none() -> None:
    [mail, hook] = notifications_for(change(Status.ERROR), WHO, NotifyPolicy())
    message = compose(mail, T0)
    for part in (message.subject, message.text, message.html):
        assert "None" not in part
        assert "null" not in part
    assert "Started" not in message.text
    assert "Run-time details" not in message.text
    assert message.subject == "Job fit (id=42) error"
    document = compose(hook, T0).document
    assert document["date_started"] is None  # JSON null, not "None"
    assert document["runtime_details"] is None


def test_dates_and_details_are_told_when_known() -> None:
    full = change(
        date_created=T0,
        date_started=T0 + timedelta(minutes=1),
        date_finished=T0 + timedelta(hours=1),
        runtime_details="loss 0.1",
    )
    [mail, hook] = notifications_for(full, WHO, NotifyPolicy())
    text = compose(mail, T0).text
    assert "Created: 2026-03-01T12:00:00+00:00" in text
    assert "Started: 2026-03-01T12:01:00+00:00" in text
    assert "Finished: 2026-03-01T13:00:00+00:00" in text
    assert text.endswith("Run-time details:\nloss 0.1\n")
    assert compose(hook, T0 + timedelta(seconds=5)).document == {
        "event": "job.status",
        "delivery_id": "42.finished.webhook",
        "sent_at": "2026-03-01T12:00:05+00:00",
        "username": "ada",
        "job_id": 42,
        "job_name": "fit",
        "status": "finished",
        "date_created": "2026-03-01T12:00:00+00:00",
        "date_started": "2026-03-01T12:01:00+00:00",
        "date_finished": "2026-03-01T13:00:00+00:00",
        "runtime_details": "loss 0.1",
    }


def test_a_subject_cannot_carry_a_header() -> None:
    [mail, _] = notifications_for(change(job_name="x\r\nBcc: evil@x.org"), WHO, NotifyPolicy())
    subject = compose(mail, T0).subject
    assert "\n" not in subject
    assert "\r" not in subject


def test_huge_details_are_cut() -> None:
    [mail, _] = notifications_for(change(runtime_details="x" * 50_000), WHO, NotifyPolicy())
    message = compose(mail, T0)
    assert len(message.text) < MAX_DETAILS + 500
    assert message.text.rstrip().endswith("(truncated)")
