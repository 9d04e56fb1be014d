"""E-mail over SMTP (aiosmtplib): one connection per message, plain text and HTML parts.

Every aiosmtplib error becomes a domain error: a permanent (5xx) refusal of the recipient or
of the message is Rejected; busy answers (4xx), lost connections, timeouts, and problems of
our own configuration (authentication, the sender refused, no STARTTLS) are Unavailable, the
latter logged as errors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from domain.errors import Rejected, Unavailable
from domain.notify.model import Notification
from domain.notify.render import Message

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str  # the From address (EMAIL_SENDER_ADDRESS)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True  # upgrade a plain connection (port 587)
    tls: bool = False  # TLS from the first byte (port 465)
    ca_file: str | None = None  # trust this CA bundle (a private mail server), not the system's
    timeout: float = 30.0


def build_email(config: SmtpConfig, notification: Notification, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = config.sender
    mail["To"] = notification.address
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    domain = config.sender.rpartition("@")[2] or "jobcloud"
    # The same id on every attempt: a mail system that sees it twice may drop the repeat.
    mail["Message-ID"] = f"<jobcloud.{notification.key}@{domain}>"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


class SmtpNotifier:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, notification: Notification, message: Message) -> None:
        c = self._config
        try:
            await aiosmtplib.send(
                build_email(c, notification, message),
                hostname=c.host,
                port=c.port,
                username=c.username,
                password=c.password,
                use_tls=c.tls,
                start_tls=c.starttls if not c.tls else False,
                cert_bundle=c.ca_file,
                timeout=c.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            _recipients_refused(exc)
        except (aiosmtplib.SMTPAuthenticationError, aiosmtplib.SMTPSenderRefused) as exc:
            log.error("SMTP server %s refuses our configuration: %s", c.host, exc)
            raise Unavailable(f"SMTP: {exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPNotSupported as exc:
            log.error("SMTP server %s: %s (check SMTP_STARTTLS / SMTP_TLS)", c.host, exc)
            raise Unavailable(f"SMTP: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise Rejected(f"SMTP {exc.code} {exc.message}") from exc
            raise Unavailable(f"SMTP {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:  # connection, timeout, TLS
            if "STARTTLS" in str(exc):
                log.error("SMTP server %s: %s (check SMTP_STARTTLS / SMTP_TLS)", c.host, exc)
            raise Unavailable(f"SMTP server unreachable: {type(exc).__name__}: {exc}") from exc


def _recipients_refused(exc: aiosmtplib.SMTPRecipientsRefused) -> None:
    codes = [r.code for r in exc.recipients]
    text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
    if codes and all(500 <= code < 600 for code in codes):
        raise Rejected(f"SMTP refused the recipient: {text}") from exc
    raise Unavailable(f"SMTP deferred the recipient: {text}") from exc
