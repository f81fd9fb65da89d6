"""Tables of the travel watch: watch-list entries, travel notices, alerts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from veille.store.models import Base
from veille.store.types import StrEnumType, UTCDateTime, utcnow


class AlertState(StrEnum):
    """Where an alert stands: waiting for review, confirmed or dismissed by a reviewer."""

    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class WatchEntry(Base):
    """A person on the watch list, under a legal basis, until ``valid_until`` (inclusive)."""

    __tablename__ = "travel_watch_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watch_id: Mapped[str] = mapped_column(String(100), unique=True)
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    transliterations: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    """Other spellings of the name: ``[{"given_name": ..., "family_name": ...}]``."""
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    nationality: Mapped[str | None] = mapped_column(String(2))
    documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_basis: Mapped[str] = mapped_column(Text)
    issuing_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    issuing_country: Mapped[str | None] = mapped_column(String(2))
    valid_until: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_travel_watch_entry_valid_until", "valid_until"),)


class TravelNotice(Base):
    """A notice that a person travels (from an airline, a border or a partner agency)."""

    __tablename__ = "travel_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    nationality: Mapped[str | None] = mapped_column(String(2))
    document_number: Mapped[str | None] = mapped_column(String(64))
    departure_country: Mapped[str] = mapped_column(String(2))
    destination_country: Mapped[str] = mapped_column(String(2))
    departure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the notice was last matched against the watch list (``None``: not yet)."""

    __table_args__ = (Index("ix_travel_notice_matched_at", "matched_at"),)


class TravelAlert(Base):
    """A notice that matched a watch-list entry, for the destination country's agency to review."""

    __tablename__ = "travel_alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("travel_notice.id", ondelete="CASCADE"))
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("travel_watch_entry.id", ondelete="SET NULL")
    )
    """The entry matched; ``None`` once the entry expired and was purged."""
    watch_id: Mapped[str] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)
    matched_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Similarity of each field compared (``family_name``, ``date_of_birth``...)."""
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    destination_country: Mapped[str] = mapped_column(String(2))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    """The destination country's agency the alert goes to (``None``: no agency there yet)."""
    state: Mapped[AlertState] = mapped_column(StrEnumType(AlertState), default=AlertState.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("notice_id", "watch_id", name="uq_travel_alert_notice_watch"),
        Index("ix_travel_alert_agency_state", "agency_id", "state"),
    )
