"""The media capability's tables: hash lists, known items, matches, clusters.

Per-media-item results live here, keyed by ``media_item_id``; the core
``media_item`` table is never altered.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from veille.store.models import Base
from veille.store.types import UTCDateTime, utcnow

CLASSIFICATIONS = ("known", "new_version", "new")


class HashList(Base):
    """An imported list ("bank") of known content, with its provenance."""

    __tablename__ = "hash_list"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str | None] = mapped_column(String(200))
    licence: Mapped[str | None] = mapped_column(String(200))
    marking: Mapped[str] = mapped_column(String(32), default="amber")
    category_scheme: Mapped[str | None] = mapped_column(String(100))
    list_format: Mapped[str] = mapped_column(String(16))
    threshold_bits: Mapped[int] = mapped_column(Integer, default=31)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "threshold_bits >= 0 AND threshold_bits <= 47", name="ck_hash_list_threshold"
        ),
    )


class KnownItem(Base):
    """One known piece of content of a list, by its hashes; removals are tombstoned."""

    __tablename__ = "known_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("hash_list.id", ondelete="CASCADE"))
    #: The item's identity in its list: ``<signal>:<hex>`` of its strongest hash.
    item_key: Mapped[str] = mapped_column(String(80))
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    pdq: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(100))
    series: Mapped[str | None] = mapped_column(String(200))
    victim_identified: Mapped[bool | None] = mapped_column(Boolean)
    offender_identified: Mapped[bool | None] = mapped_column(Boolean)
    is_distributed: Mapped[bool | None] = mapped_column(Boolean)
    tags: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    tombstoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("list_id", "item_key", name="uq_known_item_list_key"),
        Index("ix_known_item_md5", "md5"),
        Index("ix_known_item_sha1", "sha1"),
        Index("ix_known_item_sha256", "sha256"),
        Index("ix_known_item_pdq", "pdq"),
    )


class MediaMatch(Base):
    """A media item matched a known item, or another reported media item."""

    __tablename__ = "media_match"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_item_id: Mapped[int] = mapped_column(ForeignKey("media_item.id", ondelete="CASCADE"))
    known_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("known_item.id", ondelete="CASCADE")
    )
    other_media_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_item.id", ondelete="CASCADE")
    )
    signal_type: Mapped[str] = mapped_column(String(16))
    distance_bits: Mapped[int] = mapped_column(Integer)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "(known_item_id IS NULL) <> (other_media_item_id IS NULL)",
            name="ck_media_match_one_target",
        ),
        Index("ix_media_match_media", "media_item_id"),
        Index("ix_media_match_known", "known_item_id"),
        Index("ix_media_match_other", "other_media_item_id"),
    )


class ReportedHash(Base):
    """One distinct hash value among reported media, and the first media item that had it.

    Reported media are paired through these rows, not item by item: a file
    sent ten thousand times is one row, so pairing a new file costs the
    number of distinct values near it, not the number of copies.
    """

    __tablename__ = "reported_hash"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    media_item_id: Mapped[int] = mapped_column(ForeignKey("media_item.id", ondelete="CASCADE"))

    __table_args__ = (UniqueConstraint("signal_type", "value", name="uq_reported_hash_value"),)


class ContentCluster(Base):
    """All reported versions of one piece of content.

    Its id is the smallest media item id it had when it was made; when two
    clusters merge, the larger one keeps its id.
    """

    __tablename__ = "content_cluster"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    media_count: Mapped[int] = mapped_column(Integer)
    report_count: Mapped[int] = mapped_column(Integer)
    reporter_count: Mapped[int] = mapped_column(Integer)
    country_count: Mapped[int] = mapped_column(Integer)
    known: Mapped[bool] = mapped_column(Boolean, default=False)
    viral: Mapped[bool] = mapped_column(Boolean, default=False)
    peak_reporters_in_window: Mapped[int] = mapped_column(Integer, default=0)
    first_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MediaClassification(Base):
    """What matching concluded about one media item, and its content cluster.

    The row also keeps what the cluster's counts are made of (the item's
    report, sharer, country and time), so that a cluster's counts change by
    what joins it, never by re-reading all of it.
    """

    __tablename__ = "media_classification"

    media_item_id: Mapped[int] = mapped_column(
        ForeignKey("media_item.id", ondelete="CASCADE"), primary_key=True
    )
    classification: Mapped[str] = mapped_column(String(16))
    cluster_id: Mapped[int | None] = mapped_column(Integer)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    report_id: Mapped[int] = mapped_column(Integer)
    #: Who shared the item: its report's source and reported account (see ``sharer_key``).
    sharer: Mapped[str] = mapped_column(String(240))
    country: Mapped[str | None] = mapped_column(String(2))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint(
            "classification IN ('known', 'new_version', 'new')",
            name="ck_media_classification_value",
        ),
        Index("ix_media_classification_cluster_report", "cluster_id", "report_id"),
        Index("ix_media_classification_cluster_sharer", "cluster_id", "sharer"),
        Index("ix_media_classification_cluster_country", "cluster_id", "country"),
        Index("ix_media_classification_cluster_time", "cluster_id", "received_at"),
    )
