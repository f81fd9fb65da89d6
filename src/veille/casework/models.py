"""Tables of casework: take-down notices and their events, school incidents, questionnaires.

The take-down tables are what the analytics capability's provider statistics
read, through :func:`veille.casework.takedown.notice_rows` (not these classes).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from veille.store.models import Base
from veille.store.types import StrEnumType, UTCDateTime, utcnow


class NoticeState(StrEnum):
    """Where a take-down notice stands."""

    PENDING = "pending"
    """Created, not sent yet."""
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"


class NoticeEventKind(StrEnum):
    """What happened to a notice."""

    CREATED = "created"
    SENT = "sent"
    RENOTIFIED = "renotified"
    SEND_FAILED = "send_failed"
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"
    ESCALATED = "escalated"
    IMPORTED = "imported"


class IncidentKind(StrEnum):
    """Kinds of incident in schools (the scenario's and the seed's)."""

    VIDEO_CONFERENCE_INTRUSION = "video_conference_intrusion"
    GROOMING_CONTACT = "grooming_contact"
    IMAGE_SHARING = "image_sharing"
    SEXTORTION_ATTEMPT = "sextortion_attempt"
    INAPPROPRIATE_CONTACT = "inappropriate_contact"
    OTHER = "other"


class TakedownProvider(Base):
    """An online service provider that receives notices, and how to reach it."""

    __tablename__ = "takedown_provider"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    """The provider's own agency, when it has one (an ESP tenant of Veille)."""
    contact_email: Mapped[str | None] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    """Kept as given: signing a body needs the secret itself (an HMAC key, not a password)."""
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    """SHA-256 of the provider's confirmation token; the token itself is shown once."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TakedownProviderDomain(Base):
    """A host name (and its sub-domains) served by a provider: how a URL finds its provider."""

    __tablename__ = "takedown_provider_domain"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("takedown_provider.id", ondelete="CASCADE"), index=True
    )


class TakedownNotice(Base):
    """A notice asking a provider to remove content at a URL, with its times."""

    __tablename__ = "takedown_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    """The sender's id (``notice_id`` of an imported file)."""
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id", ondelete="SET NULL"))
    report_external_id: Mapped[str | None] = mapped_column(String(200))
    sender_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("takedown_provider.id"))
    url: Mapped[str] = mapped_column(String(2000))
    host: Mapped[str] = mapped_column(String(253))
    content_cluster: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[NoticeState] = mapped_column(StrEnumType(NoticeState))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notify_count: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_takedown_notice_open", "state", "last_notified_at"),
        Index("ix_takedown_notice_provider", "provider_id", "sent_at"),
        Index("ix_takedown_notice_sender", "sender_agency_id", "id"),
    )


class TakedownEvent(Base):
    """One thing that happened to a notice: sent, acknowledged, removed, re-notified, escalated."""

    __tablename__ = "takedown_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("takedown_notice.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[NoticeEventKind] = mapped_column(StrEnumType(NoticeEventKind))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(32))
    """``email``, ``webhook``, ``api``, ``cli``, ``import``, ``schedule``."""
    detail: Mapped[str | None] = mapped_column(Text)


class SchoolIncident(Base):
    """An incident in a school (a video-conference intrusion, grooming contact, ...)."""

    __tablename__ = "school_incident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    school: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(200))
    locality: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[IncidentKind] = mapped_column(StrEnumType(IncidentKind))
    platform: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    report_external_id: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_school_incident_place_time", "country", "region", "occurred_at"),)


class Questionnaire(Base):
    """A questionnaire as defined (its validated definition kept as JSON)."""

    __tablename__ = "questionnaire"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    sender: Mapped[str | None] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    defined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    defined_by: Mapped[str] = mapped_column(String(200))


class QuestionnaireDispatch(Base):
    """A questionnaire sent to an agency."""

    __tablename__ = "questionnaire_dispatch"

    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire.id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_by: Mapped[str] = mapped_column(String(200))


class QuestionnaireResponse(Base):
    """One agency's answers to a questionnaire (the last submission counts)."""

    __tablename__ = "questionnaire_response"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire.id", ondelete="CASCADE")
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    country: Mapped[str] = mapped_column(String(2))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(32))
    """``api``, ``import`` or ``cli``."""
    recorded_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("questionnaire_id", "agency_id"),)
