"""The core domain tables: agencies, reports, media items, identifiers, audit.

Later capabilities add their own model modules on the same ``Base``; each one
owns its tables and the migrations that create them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from veille.store.types import StrEnumType, UTCDateTime, utcnow
from veille.vocab import (
    AgencyKind,
    Channel,
    CountryReason,
    IdentifierKind,
    Marking,
    OffenceType,
    PlatformCategory,
    ReporterKind,
    ReportFlag,
)


class Base(DeclarativeBase):
    """Declarative base of every Veille table."""


class Agency(Base):
    """A tenant: hotline, police unit, service provider, NGO or intelligence unit."""

    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[AgencyKind] = mapped_column(StrEnumType(AgencyKind))
    country: Mapped[str] = mapped_column(String(2))
    contact: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (CheckConstraint("length(country) = 2", name="ck_agency_country_alpha2"),)


class Report(Base):
    """One signalement, whichever channel it came through."""

    __tablename__ = "report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200))
    content_sha256: Mapped[str] = mapped_column(String(64))
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel))
    reporter_kind: Mapped[ReporterKind] = mapped_column(StrEnumType(ReporterKind))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    incident_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stated_country: Mapped[str | None] = mapped_column(String(2))
    derived_country: Mapped[str | None] = mapped_column(String(2))
    country_reason: Mapped[CountryReason] = mapped_column(StrEnumType(CountryReason))
    platform: Mapped[str | None] = mapped_column(String(200))
    platform_category: Mapped[PlatformCategory] = mapped_column(StrEnumType(PlatformCategory))
    summary: Mapped[str | None] = mapped_column(Text)
    marking: Mapped[Marking] = mapped_column(StrEnumType(Marking))
    owner_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner: Mapped[Agency] = relationship(lazy="joined")
    offences: Mapped[list[ReportOffence]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ReportOffence.offence_type"
    )
    flags: Mapped[list[ReportFlagRow]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ReportFlagRow.flag"
    )
    media: Mapped[list[MediaItem]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="MediaItem.id"
    )
    identifiers: Mapped[list[Identifier]] = relationship(
        secondary="report_identifier", lazy="selectin", order_by="Identifier.id"
    )

    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_report_source_external_id"),
        Index("ix_report_received_at", "received_at"),
        Index("ix_report_owner", "owner_agency_id"),
        Index("ix_report_derived_country", "derived_country"),
        Index("ix_report_category", "platform_category"),
    )


class ReportOffence(Base):
    """One offence type of a report."""

    __tablename__ = "report_offence"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    offence_type: Mapped[OffenceType] = mapped_column(StrEnumType(OffenceType), primary_key=True)

    __table_args__ = (Index("ix_report_offence_type", "offence_type"),)


class ReportFlagRow(Base):
    """One flag set on a report."""

    __tablename__ = "report_flag"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    flag: Mapped[ReportFlag] = mapped_column(StrEnumType(ReportFlag), primary_key=True)


class ReportShare(Base):
    """A report shared by its owner with another agency."""

    __tablename__ = "report_share"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_report_share_agency", "agency_id", "report_id"),)


class MediaItem(Base):
    """One file of a report, known by its hashes (the file itself is not kept)."""

    __tablename__ = "media_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    file_name: Mapped[str | None] = mapped_column(String(500))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(100))
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_media_item_report", "report_id"),
        Index("ix_media_item_md5", "md5"),
        Index("ix_media_item_sha256", "sha256"),
    )


class Identifier(Base):
    """A normalised account or technical identifier, shared by all reports that carry it."""

    __tablename__ = "identifier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[IdentifierKind] = mapped_column(StrEnumType(IdentifierKind))
    value: Mapped[str] = mapped_column(String(500))
    # Empty string, not NULL, when the identifier is not platform-specific, so
    # that the unique constraint also holds for those rows.
    platform: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (
        UniqueConstraint("kind", "value", "platform", name="uq_identifier_kind_value_platform"),
    )


class ReportIdentifier(Base):
    """Which identifiers a report carries."""

    __tablename__ = "report_identifier"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    identifier_id: Mapped[int] = mapped_column(ForeignKey("identifier.id"), primary_key=True)

    __table_args__ = (Index("ix_report_identifier_identifier", "identifier_id", "report_id"),)


class AuditEvent(Base):
    """Who read or changed what, on behalf of which agency, and when."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)
