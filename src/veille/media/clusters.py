"""Content clusters, classifications and the viral flag, and the doors other capabilities use.

A content cluster is a connected component of the graph whose edges are the
match rows: reported media ↔ reported media (near-duplicates) and reported
media ↔ known item (all versions of one known content join one cluster).
Its id is the smallest media item id it had when it was made; when clusters
merge the largest keeps its id. :mod:`veille.media.cluster_upkeep` keeps
them up to date as media are matched.

Each media item is classified:

- ``known``: an exact match (MD5, SHA-1, SHA-256, or PDQ at distance 0) with a
  live known item;
- ``new_version``: no exact match, but a PDQ match with a known item, or a
  cluster that holds known content — a new version of known content, a lead;
- ``new``: neither.

A cluster is viral when at least ``viral_min_reporters`` distinct sharers (a
reported account within its report's source, or the report when it names
none) sent it within ``viral_window_hours``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from veille.media.models import ContentCluster, KnownItem, MediaClassification, MediaMatch
from veille.store.models import MediaItem

_BATCH = 2000


@dataclass(frozen=True)
class ClusterSummary:
    """What a matching run left: the clusters its media are in, and its media by class."""

    clusters: int
    known: int
    new_version: int
    new: int
    viral_clusters: int


@dataclass(frozen=True)
class MediaSignals:
    """What media matching says about one report (counts of its media items by class)."""

    known: int
    new_version: int
    new: int
    viral: bool
    victim_identified_known: bool
    matched: bool


def peak_reporters(events: list[tuple[datetime, str]], window: timedelta) -> int:
    """The most distinct reporters seen within any ``window`` (events sorted by time)."""
    counts: Counter[str] = Counter()
    best = start = 0
    for moment, reporter in events:
        counts[reporter] += 1
        while moment - events[start][0] > window:
            gone = events[start][1]
            counts[gone] -= 1
            if counts[gone] == 0:
                del counts[gone]
            start += 1
        best = max(best, len(counts))
    return best


def _media_rows(session: Session, report_ids: Collection[int] | None) -> list[Any]:
    query = select(
        MediaItem.report_id, MediaItem.id, MediaClassification.classification,
        MediaClassification.cluster_id, ContentCluster.viral,
    ).join(MediaClassification, MediaClassification.media_item_id == MediaItem.id).outerjoin(
        ContentCluster, ContentCluster.id == MediaClassification.cluster_id
    )  # fmt: skip
    if report_ids is None:
        return list(session.execute(query).all())
    rows: list[Any] = []
    ordered = sorted(set(report_ids))
    for start in range(0, len(ordered), _BATCH):
        chunk = ordered[start : start + _BATCH]
        rows.extend(session.execute(query.where(MediaItem.report_id.in_(chunk))).all())
    return rows


def content_clusters_by_report(
    session: Session, report_ids: Collection[int] | None = None
) -> dict[int, set[int]]:
    """Report id → the ids of the content clusters its media items belong to.

    Only reports with matched (classified) media appear. Two reports sharing a
    cluster id carry versions of the same content.
    """
    result: dict[int, set[int]] = defaultdict(set)
    for report_id, _media_id, _label, cluster_id, _viral in _media_rows(session, report_ids):
        if cluster_id is not None:
            result[report_id].add(cluster_id)
    return dict(result)


def media_signals_by_report(
    session: Session, report_ids: Collection[int] | None
) -> dict[int, MediaSignals]:
    """Report id → ``MediaSignals``: its media counted by class, viral and victim flags.

    ``matched`` is true when any media item matched a live known item;
    ``victim_identified_known`` when one of those known items has its victim
    identified. Reports without classified media are absent.
    """
    rows = _media_rows(session, report_ids)
    media_ids = [row[1] for row in rows]
    matched: set[int] = set()
    victim: set[int] = set()
    for start in range(0, len(media_ids), _BATCH):
        chunk = media_ids[start : start + _BATCH]
        for media_id, victim_identified in session.execute(
            select(MediaMatch.media_item_id, KnownItem.victim_identified)
            .join(KnownItem, KnownItem.id == MediaMatch.known_item_id)
            .where(MediaMatch.media_item_id.in_(chunk), KnownItem.tombstoned_at.is_(None))
        ):
            matched.add(media_id)
            if victim_identified:
                victim.add(media_id)
    tallies: dict[int, dict[str, Any]] = {}
    for report_id, media_id, label, _cluster, is_viral in rows:
        tally = tallies.setdefault(
            report_id,
            {
                "known": 0,
                "new_version": 0,
                "new": 0,
                "viral": False,
                "victim": False,
                "matched": False,
            },
        )
        tally[label] += 1
        tally["viral"] = tally["viral"] or bool(is_viral)
        tally["victim"] = tally["victim"] or media_id in victim
        tally["matched"] = tally["matched"] or media_id in matched
    return {
        report_id: MediaSignals(
            t["known"], t["new_version"], t["new"], t["viral"], t["victim"], t["matched"]
        )
        for report_id, t in tallies.items()
    }
