"""A real SMTP server on 127.0.0.1 for the notifier contract (aiosmtpd in its own thread),
with STARTTLS or implicit TLS on a fresh self-signed certificate."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ipaddress
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
