"""Tables of the linking capability: case clusters, links with evidence, stop-list, alerts.

Case clusters are a union-find persisted in two tables: ``report_cluster``
gives every linked report its cluster, ``case_cluster`` holds each cluster's
size and spread. A cluster's internal id is the id of one of its reports (the
representative), so creating a cluster never needs a sequence; that id never
leaves the database, since it would name a report the reader may not see.
People and clients know a cluster by its ``public_id``, a random token. ``link_anchor``
remembers, for each linking key, the first report that carried it: a new
report carrying the key joins that report's cluster without a scan.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from veille.store.models import Base
from veille.store.types import UTCDateTime, utcnow

PUBLIC_ID_PREFIX = "cc-"
PUBLIC_ID_LENGTH = len(PUBLIC_ID_PREFIX) + 16


def new_public_id() -> str:
    """A fresh public cluster id: random, so it says nothing about the reports inside."""
    return PUBLIC_ID_PREFIX + secrets.token_hex(8)


class CaseCluster(Base):
    """A set of reports linked by shared identifiers or content."""

    __tablename__ = "case_cluster"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    public_id: Mapped[str] = mapped_column(String(32), default=new_public_id)
    size: Mapped[int] = mapped_column(Integer, default=1)
    agency_count: Mapped[int] = mapped_column(Integer, default=1)
    country_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_case_cluster_size", "size"),
        UniqueConstraint("public_id", name="uq_case_cluster_public_id"),
    )


class ReportCluster(Base):
    """The case cluster of one linked report (every linked report has one)."""

    __tablename__ = "report_cluster"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    cluster_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_report_cluster_cluster", "cluster_id", "report_id"),)


class LinkAnchor(Base):
    """The first report that carried a linking key (``email:a@example.com``, ``content:7``)."""

    __tablename__ = "link_anchor"

    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))


class ReportLink(Base):
    """Evidence: ``report_id`` was linked to ``other_report_id`` because both carry ``key``."""

    __tablename__ = "report_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    other_report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    evidence_kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(600))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_report_link_report", "report_id"),
        Index("ix_report_link_other", "other_report_id"),
    )


class CandidateLink(Base):
    """Weak evidence that two reports may be about one person, kept for review.

    A candidate link never merges clusters: deconfliction alerts read
    clusters, which only strong evidence (:class:`ReportLink`) builds; triage
    names a candidate link to a report with a child at risk as a reason of its
    own (``possibly_linked_to_child_at_risk``).
    ``key`` names the evidence (the matched suspect), ``score`` its strength
    in [0, 1].
    """

    __tablename__ = "link_candidate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    other_report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    evidence_kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(600))
    score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_link_candidate_report", "report_id"),
        Index("ix_link_candidate_other", "other_report_id"),
    )


class StopEntry(Base):
    """An identifier (or IP network) too common to link reports on.

    ``source`` is ``builtin`` (CGNAT and private ranges), ``manual`` (added by
    an operator: a large provider's shared address, a proxy) or ``auto``
    (seen in more reports or agencies than the configured limit).
    """

    __tablename__ = "link_stop_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(600))
    is_network: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16))
    report_count: Mapped[int | None] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    added_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("key", name="uq_link_stop_entry_key"),)


class DeconflictionAlert(Base):
    """Tells ``agency_id`` that another agency holds reports of the same case cluster.

    Only reports that are not TLP:RED raise alerts. ``other_disclosed`` is
    kept for databases made before that rule: alerts with it false (the old
    "restricted reports" alerts) are never shown.
    """

    __tablename__ = "deconfliction_alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_id: Mapped[int] = mapped_column(Integer)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    other_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    other_disclosed: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint(
            "cluster_id", "agency_id", "other_agency_id", name="uq_deconfliction_alert_pair"
        ),
        Index("ix_deconfliction_alert_agency", "agency_id"),
    )
