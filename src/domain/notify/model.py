"""What a notification is, and when one is due."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from domain.errors import InvalidInput
from domain.jobs import Status


class Channel(enum.StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class JobChange:
    """A user job's status change: the facts a notification tells."""

    username: str
    job_id: int  # the user side's job id
    job_name: str
    status: Status
    date_created: datetime | None = None
    date_started: datetime | None = None
    date_finished: datetime | None = None
    runtime_details: str | None = None


_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
MAX_ADDRESS = 2000  # characters of an e-mail address or a webhook URL


def is_address(text: str) -> bool:
    """Whether `text` looks like an e-mail address (DECODE's usernames are)."""
    return len(text) <= MAX_ADDRESS and bool(_EMAIL.match(text))


def check_email(value: str, field: str = "email") -> str:
    """`value`, or InvalidInput naming `field`."""
    if not is_address(value):
        raise InvalidInput(f"{field}: not an e-mail address: {value[:100]!r}")
    return value


def check_webhook_url(value: str, field: str = "webhook_url") -> str:
    """An http(s) URL with a host, no blanks, at most MAX_ADDRESS characters; else
    InvalidInput naming `field`."""
    problem = f"{field}: expected an http(s):// URL of at most {MAX_ADDRESS} characters"
    if len(value) > MAX_ADDRESS or any(c.isspace() for c in value):
        raise InvalidInput(f"{problem}, got {value[:100]!r}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InvalidInput(f"{problem}, got {value[:100]!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{problem}, got {value[:100]!r}")
    return value


@dataclass(frozen=True, slots=True)
class Recipients:
    """Where a user (or one job) wants to hear of its jobs: InvalidInput names a bad field."""

    email: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None

    def __post_init__(self) -> None:
        if self.email is not None:
            check_email(self.email)
        if self.webhook_url is not None:
            check_webhook_url(self.webhook_url)


DEFAULT_STATUSES = frozenset({Status.FINISHED, Status.ERROR})


@dataclass(frozen=True, slots=True)
class NotifyPolicy:
    """Which status changes are told, and on which channels (e-mail only with a sender)."""

    statuses: frozenset[Status] = DEFAULT_STATUSES
    channels: frozenset[Channel] = frozenset(Channel)

    @staticmethod
    def parse_statuses(text: str) -> frozenset[Status]:
        """`finished,error` or `all`; ValueError naming the unknown status."""
        words = [w.strip().lower() for w in text.split(",") if w.strip()]
        if words == ["all"]:
            return frozenset(Status)
        if not words:
            raise ValueError("no status given")
        known = {s.value: s for s in Status}
        unknown = [w for w in words if w not in known]
        if unknown:
            raise ValueError(f"unknown status {unknown[0]!r} (known: all, {', '.join(known)})")
        return frozenset(known[w] for w in words)

    def due(self, status: Status) -> bool:
        return status in self.statuses


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one address about one status change; `id` and `attempts` come from
    the outbox. At most one exists per (job, status, channel)."""

    channel: Channel
    address: str  # an e-mail address, or the webhook URL
    change: JobChange
    secret: str | None = field(default=None, repr=False)  # signs webhook bodies
    id: int = 0
    attempts: int = 0

    @property
    def key(self) -> str:
        """Stable across retries and restarts: receivers may use it to drop duplicates."""
        return f"{self.change.job_id}.{self.change.status.value}.{self.channel.value}"


def notifications_for(
    change: JobChange, recipients: Recipients, policy: NotifyPolicy
) -> list[Notification]:
    """The notifications a status change calls for (none when it is not due)."""
    if not policy.due(change.status):
        return []
    wanted: Iterable[tuple[Channel, str | None]] = (
        (Channel.EMAIL, recipients.email),
        (Channel.WEBHOOK, recipients.webhook_url),
    )
    return [
        Notification(
            channel,
            address,
            change,
            secret=recipients.webhook_secret if channel is Channel.WEBHOOK else None,
        )
        for channel, address in wanted
        if address and channel in policy.channels
    ]


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


class State(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NotificationState:
    """Where one notification stands (for operators and tests)."""

    channel: Channel
    status: Status
    state: State
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
