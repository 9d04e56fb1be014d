"""Real HTTP servers on 127.0.0.1 for the notifier contract: a Mailjet Send API v3.1
stand-in that checks every request as Mailjet does, and a webhook receiver that checks the
signature (its own HMAC code, not the adapter's)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.contract.userapi_server import Recorded, UserApiServer

# -- Mailjet Send API v3.1 ----------------------------------------------------------------

# The fields of a v3.1 message (https://dev.mailjet.com/email/reference/send-emails/).
MESSAGE_FIELDS = {
    "From", "Sender", "To", "Cc", "Bcc", "ReplyTo", "Subject", "TextPart", "HTMLPart",
    "TemplateID", "TemplateLanguage", "TemplateErrorReporting", "TemplateErrorDeliver",
    "Attachments", "InlinedAttachments", "Priority", "CustomCampaign",
    "DeduplicateCampaign", "TrackOpens", "TrackClicks", "CustomID", "EventPayload",
    "MonitoringCategory", "URLTags", "Headers", "Variables",
}  # fmt: skip


def mailjet_problems(request: Recorded, api_key: str, secret_key: str) -> list[str]:
    """What Mailjet would refuse in this request (empty: it is a valid v3.1 send)."""
    problems = []
    if (request.method, request.path) != ("POST", "/v3.1/send"):
        problems.append(f"{request.method} {request.path}")
    expected = "Basic " + base64.b64encode(f"{api_key}:{secret_key}".encode()).decode()
    if request.headers.get("authorization") != expected:
        problems.append("authorization")
    if not request.headers.get("content-type", "").startswith("application/json"):
        problems.append("content-type")
    try:
        body = request.json()
    except ValueError:
        return [*problems, "body is not JSON"]
    if not isinstance(body, dict) or set(body) - {"Messages", "SandboxMode", "Globals"}:
        return [*problems, "top-level fields"]
    messages = body.get("Messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 50:
        return [*problems, "Messages"]
    for index, m in enumerate(messages):
        problems += [f"Messages[{index}].{p}" for p in _message_problems(m)]
    return problems


def _message_problems(m: Any) -> list[str]:
    if not isinstance(m, dict):
        return ["not an object"]
    problems = [f"unknown field {k}" for k in set(m) - MESSAGE_FIELDS]
    sender = m.get("From")
    if not isinstance(sender, dict) or not _address(sender.get("Email")):
        problems.append("From.Email")
    to = m.get("To")
    if not isinstance(to, list) or not to:
        problems.append("To")
    else:
        problems += [f"To[{i}]" for i, r in enumerate(to) if not _recipient(r)]
    if not any(isinstance(m.get(k), str) and m[k] for k in ("TextPart", "HTMLPart")):
        problems.append("TextPart/HTMLPart")
    if not isinstance(m.get("Subject"), str):
        problems.append("Subject")
    if "CustomID" in m and not isinstance(m["CustomID"], str):
        problems.append("CustomID")
    return problems


def _recipient(r: Any) -> bool:
    return isinstance(r, dict) and set(r) <= {"Email", "Name"} and _address(r.get("Email"))


def _address(value: Any) -> bool:
    return isinstance(value, str) and value.count("@") == 1 and "." in value.split("@")[1]


def mailjet_success(request: Recorded) -> str:
    m = request.json()["Messages"][0]
    return json.dumps(
        {
            "Messages": [
                {
                    "Status": "success",
                    "CustomID": m.get("CustomID", ""),
                    "To": [
                        {
                            "Email": r["Email"],
                            "MessageUUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2j",
                            "MessageID": 456,
                            "MessageHref": "https://api.mailjet.com/v3/message/456",
                        }
                        for r in m["To"]
                    ],
                    "Cc": [],
                    "Bcc": [],
                }
            ]
        }
    )


def mailjet_error(problems: list[str]) -> str:
    errors = [
        {
            "ErrorIdentifier": "f987008f-251a-4dff-8ffc-40f1583ad7bc",
            "ErrorCode": "mj-0003",
            "StatusCode": 400,
            "ErrorMessage": f"Invalid: {p}",
            "ErrorRelatedTo": [p],
        }
        for p in problems
    ]
    return json.dumps({"Messages": [{"Status": "error", "Errors": errors}]})


class MailjetServer(UserApiServer):
    """Answers like Mailjet: 200 for a valid v3.1 send, 400 naming what is wrong, 401 for
    other keys; `script` may override (e.g. 429, 500)."""

    def __init__(self, api_key: str, secret_key: str) -> None:
        super().__init__()
        self.problems: list[list[str]] = []

        def answer(request: Recorded, index: int) -> tuple[int, str]:
            problems = mailjet_problems(request, api_key, secret_key)
            self.problems.append(problems)
            if problems == ["authorization"]:
                return 401, '{"ErrorMessage": "API key authentication/authorization failure"}'
            if problems:
                return 400, mailjet_error(problems)
            return 200, mailjet_success(request)

        self.script = answer


# -- webhooks -----------------------------------------------------------------------------


def verify_webhook(request: Recorded, secret: str, now: datetime, tolerance: float) -> str | None:
    """What a careful receiver checks; None when the request is genuine and fresh."""
    given = request.headers.get("x-jobcloud-signature", "")
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given, expected):
        return "bad signature"
    sent_at = datetime.fromisoformat(request.json()["sent_at"])
    if abs(now - sent_at) > timedelta(seconds=tolerance):
        return "stale (a replay?)"
    return None


class WebhookReceiver(UserApiServer):
    """Answers 204 to genuine, fresh deliveries and 401 to the rest (`refusals` says why)."""

    def __init__(self, secret: str, tolerance: float = 300.0) -> None:
        super().__init__()
        self.refusals: list[str | None] = []

        def answer(request: Recorded, index: int) -> tuple[int, str]:
            problem = verify_webhook(request, secret, datetime.now(UTC), tolerance)
            self.refusals.append(problem)
            return (401, json.dumps({"detail": problem})) if problem else (204, "")

        self.script = answer
