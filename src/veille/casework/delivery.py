"""How a notice reaches a provider: an e-mail over SMTP, or a signed webhook call.

A webhook body is JSON; it is signed with HMAC-SHA256 under the provider's
secret over ``"<timestamp>." + body``, the timestamp (Unix seconds) sent in
``X-Veille-Timestamp`` and the signature as ``sha256=<hex>`` in
``X-Veille-Signature``. Signing the timestamp with the body lets a provider
refuse a replayed call (:func:`verify_webhook_signature`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import httpx

from veille.casework.settings import CaseworkSettings

TIMESTAMP_HEADER = "X-Veille-Timestamp"
SIGNATURE_HEADER = "X-Veille-Signature"
REPLAY_WINDOW_S = 300


class DeliveryFailed(RuntimeError):
    """A channel could not deliver a notice; the message says which and why."""


class ServerUnreachable(DeliveryFailed):
    """The SMTP server could not be reached at all (not a refusal of one message)."""


@dataclass(frozen=True)
class NoticeMessage:
    """What a notice says, whatever the channel."""

    notice_id: int
    url: str
    host: str
    sender_agency: str
    provider: str
    kind: str
    """``notice`` (first sending), ``reminder`` or ``escalation``."""
    sent_count: int

    def subject(self) -> str:
        label = {"notice": "Take-down notice", "reminder": "Reminder: take-down notice"}.get(
            self.kind, "Overdue take-down notice"
        )
        return f"{label} {self.notice_id}: {self.host}"

    def body_text(self) -> str:
        return (
            f"{self.sender_agency} asks {self.provider} to remove the content at\n\n"
            f"    {self.url}\n\n"
            f"Notice {self.notice_id}, sent {self.sent_count} time(s).\n"
            "Confirm acknowledgement and removal with your provider token:\n"
            f"    POST /api/v1/takedown/provider/notices/{self.notice_id}/acknowledge\n"
            f"    POST /api/v1/takedown/provider/notices/{self.notice_id}/removed\n"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "notice_id": self.notice_id,
            "kind": self.kind,
            "url": self.url,
            "host": self.host,
            "sender_agency": self.sender_agency,
            "provider": self.provider,
            "sent_count": self.sent_count,
        }


def send_email(settings: CaseworkSettings, to: str, message: NoticeMessage) -> None:
    """Send ``message`` to ``to`` through the configured SMTP server."""
    mail = EmailMessage()
    mail["From"] = settings.takedown_from
    mail["To"] = to
    mail["Subject"] = message.subject()
    mail["Message-ID"] = make_msgid(domain=settings.takedown_from.rpartition("@")[2] or None)
    mail["X-Veille-Notice"] = str(message.notice_id)
    mail.set_content(message.body_text())
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(mail)
    except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected) as error:
        raise ServerUnreachable(_where(settings, to, error)) from None
    except smtplib.SMTPException as error:
        raise DeliveryFailed(_where(settings, to, error)) from None
    except OSError as error:  # refused, timed out, no route: the server, not this message
        raise ServerUnreachable(_where(settings, to, error)) from None


def _where(settings: CaseworkSettings, to: str, error: BaseException) -> str:
    return f"e-mail to {to} via {settings.smtp_host}:{settings.smtp_port}: {error}"


class Mailer:
    """Sends a run's e-mails; once the server is unreachable, the rest of the run does not wait.

    A run may have hundreds of notices to send: without this, each would
    wait ``VEILLE_SMTP_TIMEOUT_S`` for a server already known to be down.
    """

    def __init__(self, settings: CaseworkSettings) -> None:
        self.settings = settings
        self.unreachable: str | None = None

    def send(self, to: str, message: NoticeMessage) -> None:
        """Send, or raise :class:`DeliveryFailed` (without trying once the server was unreachable)."""
        if self.unreachable is not None:
            raise DeliveryFailed(f"e-mail to {to} not tried: {self.unreachable}")
        try:
            send_email(self.settings, to, message)
        except ServerUnreachable as error:
            self.unreachable = str(error)
            raise


def sign_webhook_body(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>." + body``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_webhook_signature(
    secret: str, timestamp: str, body: bytes, signature: str, now_s: float
) -> bool:
    """Whether a webhook call is genuine and recent (what a provider's receiver checks)."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now_s - stamp) > REPLAY_WINDOW_S:
        return False
    return hmac.compare_digest(sign_webhook_body(secret, stamp, body), signature)


def send_webhook(
    settings: CaseworkSettings, url: str, secret: str, message: NoticeMessage, now_s: float
) -> None:
    """POST ``message`` as signed JSON to the provider's webhook; any 2xx is delivery."""
    body = json.dumps(message.as_json(), separators=(",", ":")).encode("utf-8")
    timestamp = int(now_s)
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign_webhook_body(secret, timestamp, body),
    }
    try:
        response = httpx.post(
            url, content=body, headers=headers, timeout=settings.takedown_webhook_timeout_s
        )
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"webhook {url}: {error}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"webhook {url}: answered HTTP {response.status_code}")
