"""Tables of the analytics capability: report-count rollups, their bookkeeping, alerts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from veille.store.models import Base
from veille.store.types import UTCDateTime, utcnow

UNKNOWN_COUNTRY = "--"
"""The country key of reports whose country is not known."""


class ReportCount(Base):
    """How many reports share one key in one week or month.

    ``label_kind`` is ``all`` for every report (``label`` empty), ``offence``
    or ``flag`` for each of a report's offence types or flags: a report with
    two offence types counts once under ``all`` and once under each offence.
    ``owner_agency_id`` and ``marking`` are kept so that a reader's counts
    include only what that reader may see.
    """

    __tablename__ = "analytics_report_count"

    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    """``w`` (the period starts on a Monday) or ``m`` (on the first of a month)."""
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    reporter: Mapped[str] = mapped_column(String(32), primary_key=True)
    label_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    label: Mapped[str] = mapped_column(String(48), primary_key=True)
    owner_agency_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marking: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_analytics_count_label", "grain", "label_kind", "label", "period"),
        Index("ix_analytics_count_country", "grain", "country", "period"),
    )


class RolledReport(Base):
    """A report already counted in :class:`ReportCount` (so it is counted once)."""

    __tablename__ = "analytics_rolled_report"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )


class TrendAlert(Base):
    """An "emerging threat": a series whose latest week left its expected band."""

    __tablename__ = "analytics_alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_key: Mapped[str] = mapped_column(String(200))
    """The series, as ``dimension=value`` pairs (``country=FR,category=messaging``)."""
    week: Mapped[date] = mapped_column(Date)
    direction: Mapped[str] = mapped_column(String(8))
    """``above`` or ``below`` the band."""
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column()
    lower: Mapped[float] = mapped_column()
    upper: Mapped[float] = mapped_column()
    p_value: Mapped[float] = mapped_column()
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The model, the weeks it was fitted on and the counts it saw."""
    marking: Mapped[str] = mapped_column(String(16))
    """The strictest marking among the reports the series counts (``clear`` for a global series)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ux_analytics_alert_series_week", "series_key", "week", unique=True),)


class UsageEvent(Base):
    """One use of the database by an agency (imported): a log-in, a query or an upload.

    The audit log records Veille's own use; these rows hold use recorded
    elsewhere (another database's export, the scenario's ``usage-events.jsonl``).
    """

    __tablename__ = "analytics_usage_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    user: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    items: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ux_analytics_usage_source_event", "source", "event_id", unique=True),
        Index("ix_analytics_usage_agency_at", "agency_id", "at"),
    )


class PublishedCount(Base):
    """A count someone else published (a clearinghouse's yearly figure for a country)."""

    __tablename__ = "analytics_published_count"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    measure: Mapped[str] = mapped_column(String(100))
    count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index(
            "ux_analytics_published",
            "source",
            "country",
            "period_start",
            "period_end",
            "measure",
            unique=True,
        ),
    )
