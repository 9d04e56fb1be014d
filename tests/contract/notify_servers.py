"""Real servers on 127.0.0.1 for the notifier contract: an SMTP server (aiosmtpd), a Mailjet
Send API v3.1 stand-in that checks every request as Mailjet does, and a webhook receiver
that checks the signature (its own HMAC code, not the adapter's)."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.contract.userapi_server import Recorded, UserApiServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- SMTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    login: str | None

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        content: str = body.get_content()  # type: ignore[attr-defined]
        return content


class SmtpServer:
    """aiosmtpd on 127.0.0.1 in its own thread; `rcpt_answer` / `data_answer` script refusals."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        starttls: ssl.SSLContext | None = None,  # offered, and required before MAIL
        implicit_tls: ssl.SSLContext | None = None,  # TLS from the first byte
    ) -> None:
        self.received: list[Received] = []
        self.rcpt_answer = "250 OK"
        self.data_answer = "250 Message accepted for delivery"
        self.delay = 0.0  # seconds before answering DATA
        self.port = free_port()
        self._credentials = credentials
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        if credentials is not None:
            kwargs = {
                "authenticator": self._authenticate,
                "auth_require_tls": starttls is not None,
                "auth_required": True,
            }
        if starttls is not None:
            kwargs |= {"tls_context": starttls, "require_starttls": True}
        if implicit_tls is not None:
            kwargs["ssl_context"] = implicit_tls
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login.decode(),
                data.password.decode(),
            )
            == self._credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.rcpt_answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt_answer

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.data_answer.startswith("250"):
            return self.data_answer
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        with self._lock:
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), message, login)
            )
        return self.data_answer


def self_signed_tls(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 with a fresh self-signed certificate, and the file a
    client must trust to accept it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


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
