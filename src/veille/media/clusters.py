"""Content clusters, classifications and the viral flag, and the doors other capabilities use.

A content cluster is a connected component of the graph whose edges are the
match rows: reported media ↔ reported media (near-duplicates) and reported
media ↔ known item (all versions of one known content join one cluster). Its
id is its smallest media item id, so ids stay stable while clusters grow.

Each media item is classified:

- ``known``: an exact match (MD5, SHA-1, SHA-256, or PDQ at distance 0) with a
  live known item;
- ``new_version``: no exact match, but a PDQ match with a known item, or a
  cluster that holds known content — a new version of known content, a lead;
- ``new``: neither.

A cluster is viral when at least ``viral_min_reporters`` distinct reporters
(report sources) sent it within ``viral_window_hours``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from veille.media.models import ContentCluster, KnownItem, MediaClassification, MediaMatch
from veille.media.settings import MediaSettings
from veille.store.models import MediaItem, Report, ReportIdentifier
from veille.store.types import utcnow

_BATCH = 2000


@dataclass(frozen=True)
class ClusterSummary:
    """Counts after clusters were recomputed."""

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


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, node: Any) -> Any:
        root = self.parent.setdefault(node, node)
        while self.parent[root] != root:
            root = self.parent[root]
        while node != root:  # path compression, iteratively (chains can be long)
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, left: Any, right: Any) -> None:
        a, b = self.find(left), self.find(right)
        if a != b:
            self.parent[max(a, b, key=str)] = min(a, b, key=str)


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


def _sharer_keys(session: Session) -> Callable[[Any], str]:
    """Who shared a reported item, as far as the reports tell.

    One source (an ESP, a hotline) sends reports about many different users,
    so the source alone cannot tell a viral wave from one offender's
    distribution. A report's sharer is the reported account (its lowest
    identifier) within its source, or the report itself when it names none.
    """
    first_identifier = dict(
        session.execute(
            select(ReportIdentifier.report_id, func.min(ReportIdentifier.identifier_id)).group_by(
                ReportIdentifier.report_id
            )
        ).all()
    )

    def key(row: Any) -> str:
        identifier = first_identifier.get(row.report_id)
        if identifier is None:
            return f"{row.source}|report:{row.report_id}"
        return f"{row.source}|identifier:{identifier}"

    return key


def recompute_clusters(session: Session, settings: MediaSettings) -> ClusterSummary:
    """Rebuild every content cluster and classification from the match rows."""
    media = session.execute(
        select(MediaItem.id, MediaItem.report_id, Report.source, Report.derived_country,
               Report.received_at).join(Report, Report.id == MediaItem.report_id)
    ).all()  # fmt: skip
    matches = session.execute(
        select(MediaMatch.media_item_id, MediaMatch.known_item_id,
               MediaMatch.other_media_item_id, MediaMatch.signal_type, MediaMatch.distance_bits)
        .outerjoin(KnownItem, KnownItem.id == MediaMatch.known_item_id)
        .where((MediaMatch.known_item_id.is_(None)) | KnownItem.tombstoned_at.is_(None))
    ).all()  # fmt: skip
    sharers = _sharer_keys(session)
    groups = _UnionFind()
    exact: set[int] = set()
    near_known: set[int] = set()
    for row in media:
        groups.find(("m", row.id))
    for media_id, known_id, other_id, signal, distance in matches:
        if known_id is not None:
            groups.union(("m", media_id), ("k", known_id))
            if signal != "pdq" or distance == 0:
                exact.add(media_id)
            else:
                near_known.add(media_id)
        else:
            groups.union(("m", media_id), ("m", other_id))
    members: dict[Any, list[Any]] = defaultdict(list)
    for row in media:
        members[groups.find(("m", row.id))].append(row)
    known_roots = {groups.find(node) for node in list(groups.parent) if node[0] == "k"}
    window = timedelta(hours=settings.viral_window_hours)
    now = utcnow()
    clusters: list[dict[str, Any]] = []
    classes: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    viral = 0
    for root, rows in members.items():
        cluster_id = min(row.id for row in rows)
        events = sorted((row.received_at, sharers(row)) for row in rows)
        peak = peak_reporters(events, window)
        is_viral = peak >= settings.viral_min_reporters
        viral += is_viral
        is_known = root in known_roots
        clusters.append(
            {
                "id": cluster_id,
                "media_count": len(rows),
                "report_count": len({row.report_id for row in rows}),
                "reporter_count": len({event[1] for event in events}),
                "country_count": len({row.derived_country for row in rows if row.derived_country}),
                "known": is_known,
                "viral": is_viral,
                "peak_reporters_in_window": peak,
                "first_received_at": events[0][0],
                "last_received_at": events[-1][0],
                "updated_at": now,
            }
        )
        for row in rows:
            if row.id in exact:
                label = "known"
            elif row.id in near_known or is_known:
                label = "new_version"
            else:
                label = "new"
            counts[label] += 1
            classes.append(
                {"media_item_id": row.id, "classification": label, "cluster_id": cluster_id,
                 "matched_at": now}
            )  # fmt: skip
    session.execute(delete(MediaClassification))
    session.execute(delete(ContentCluster))
    for table, rows_to_write in ((ContentCluster, clusters), (MediaClassification, classes)):
        for start in range(0, len(rows_to_write), _BATCH):
            session.execute(insert(table), rows_to_write[start : start + _BATCH])
    session.flush()
    return ClusterSummary(
        len(clusters), counts["known"], counts["new_version"], counts["new"], viral
    )


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
