"""Tables of the triage capability: policies, scores, queue items, capacity, referrals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from veille.store.models import Base
from veille.store.types import StrEnumType, UTCDateTime, utcnow


class QueueState(StrEnum):
    """Where a report stands in an agency's work queue."""

    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    REFERRED = "referred"
    CLOSED = "closed"


class Outcome(StrEnum):
    """How a closed queue item ended."""

    SAFEGUARDING = "safeguarding"
    ARREST = "arrest"
    INVESTIGATION_OPENED = "investigation_opened"
    CONTENT_REMOVED = "content_removed"
    NO_OFFENCE = "no_offence"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    DUPLICATE = "duplicate"
    OTHER = "other"


class TriagePolicy(Base):
    """A scoring policy as loaded (its YAML text is kept verbatim); one is active."""

    __tablename__ = "triage_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    source_text: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    loaded_by: Mapped[str] = mapped_column(String(200))


class TriageScore(Base):
    """The current score of a report, with the reasons that make it up."""

    __tablename__ = "triage_score"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(8))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(64))
    inputs_digest: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(32))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_triage_score_order", "band", "due_at"),)


class QueueItem(Base):
    """A report in one agency's work queue."""

    __tablename__ = "triage_queue_item"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[QueueState] = mapped_column(StrEnumType(QueueState))
    assignee: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[Outcome | None] = mapped_column(StrEnumType(Outcome))
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_triage_queue_item_state", "agency_id", "state"),)


class UnitCapacity(Base):
    """How many reports a unit can assess per day."""

    __tablename__ = "triage_unit_capacity"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    reports_per_day: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Referral(Base):
    """A report referred by one agency to the competent one."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    from_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    to_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    reason: Mapped[str] = mapped_column(String(500))
    cluster_id: Mapped[int | None] = mapped_column(Integer)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_referral_to", "to_agency_id"),
        Index("ix_referral_from", "from_agency_id"),
        Index("ix_referral_report", "report_id"),
    )
