"""Tables of the intake channels: ESP submissions and files, credentials, media jobs.

An ESP report lives in ``intake_esp_report`` while it is open; only when the
provider finishes it does it become a ``report`` row, so an unfinished,
retracted or expired submission never appears among reports. Uploaded files
wait in a spool folder until the media worker has hashed them
(``intake_media_job``); ``intake_report_media`` tells, per report, whether
its media has been hashed and matched yet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from veille.store.models import Base
from veille.store.types import UTCDateTime, utcnow


class EspCredential(Base):
    """HTTP Basic credentials with which a service provider reports for its agency."""

    __tablename__ = "intake_esp_credential"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    """A REST API key of an agency; only the SHA-256 of the secret is kept."""

    __tablename__ = "intake_api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    label: Mapped[str | None] = mapped_column(String(200))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EspReport(Base):
    """A CyberTipline-style submission, from ``/submit`` until finish, retraction or expiry."""

    __tablename__ = "intake_esp_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    record_json: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id", ondelete="SET NULL"))
    # Files uploaded so far, counted by the upload's claim on this row, so that the cap on
    # files per report holds under concurrent uploads (the row lock orders them).
    file_count: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (Index("ix_intake_esp_report_state_expires", "state", "expires_at"),)


class EspFile(Base):
    """A file uploaded to an open ESP submission, known by its hashes."""

    __tablename__ = "intake_esp_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    esp_report_id: Mapped[int] = mapped_column(
        ForeignKey("intake_esp_report.id", ondelete="CASCADE")
    )
    file_id: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str | None] = mapped_column(String(500))
    media_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    sha1: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    spool_path: Mapped[str | None] = mapped_column(String(1000))
    details_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_intake_esp_file_report", "esp_report_id"),)


class MediaDetail(Base):
    """What a provider said about a media item (classification, original hashes, tags)."""

    __tablename__ = "intake_media_detail"

    media_item_id: Mapped[int] = mapped_column(
        ForeignKey("media_item.id", ondelete="CASCADE"), primary_key=True
    )
    esp_file_id: Mapped[str | None] = mapped_column(String(64))
    industry_classification: Mapped[str | None] = mapped_column(String(2))
    file_relevance: Mapped[str | None] = mapped_column(String(40))
    original_hashes_json: Mapped[str | None] = mapped_column(Text)
    annotations: Mapped[str | None] = mapped_column(String(500))
    details_json: Mapped[str | None] = mapped_column(Text)


class MediaJob(Base):
    """A spooled file waiting for perceptual hashing and matching."""

    __tablename__ = "intake_media_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    media_item_id: Mapped[int] = mapped_column(ForeignKey("media_item.id", ondelete="CASCADE"))
    spool_path: Mapped[str] = mapped_column(String(1000))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_intake_media_job_state", "state", "id"),)


class ReportMediaState(Base):
    """Whether a report's media has been hashed and matched (``pending`` or ``matched``)."""

    __tablename__ = "intake_report_media"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16))
    pending_files: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_intake_report_media_state", "state"),)


class ServerSecret(Base):
    """A random secret shared by every server process on this database (CSRF, rate-limit keys).

    ``veille serve --workers N`` runs N processes, possibly on several
    machines; a secret each process drew for itself would make a form token
    issued by one process worthless to the next.
    """

    __tablename__ = "intake_server_secret"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    secret_hex: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RateLimitCount(Base):
    """Attempts accepted under one rate limit from one client address in one window.

    ``key`` is an HMAC of the limit's name and the address under a server
    secret: the address itself is never stored. Rows of past windows are
    deleted now and then by the limiter.
    """

    __tablename__ = "intake_rate_limit"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_intake_rate_limit_window", "window_start"),)


class LoginGuard(Base):
    """Failed ESP logins per client address or per user name, shared by every server process.

    ``key`` is an HMAC of what is counted (``address:…``, ``user:…``, or
    ``trusted:user/address`` for an address a user has logged in from) under a
    server secret, so neither addresses nor guessed user names are stored.
    ``blocked_until`` is when the next attempt will be checked again; until
    then attempts are refused without computing scrypt.
    """

    __tablename__ = "intake_login_guard"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_intake_login_guard_updated", "updated_at"),)
