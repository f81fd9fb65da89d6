"""Matching hashes, files and stored reports against the hash lists.

``match_query`` answers ``veille match`` for one file or hash string.
``match_reports`` matches the media items of stored reports (exact hashes in
SQL, PDQ through the persisted index), pairs them with the reported media
they are near (through the distinct values of ``reported_hash`` and the
in-memory index of :mod:`veille.media.reported_index`), writes
``media_match`` rows, and then brings the content clusters they touch up to
date (:mod:`veille.media.cluster_upkeep`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import delete, false, func, insert, select
from sqlalchemy.orm import Session

from veille.media.cluster_upkeep import Batch, Outcome, clusters_of_media, members_of_reports, place
from veille.media.clusters import ClusterSummary
from veille.media.hashing import HashOptions, hash_file
from veille.media.index import KnownPdqIndex, open_known_index
from veille.media.lists import parse_hash_argument
from veille.media.mih import brute_force, hex_to_rows
from veille.media.models import (
    ContentCluster,
    HashList,
    KnownItem,
    MediaClassification,
    MediaMatch,
    ReportedHash,
)
from veille.media.reported_index import ReportedPdqIndex, reported_index
from veille.media.settings import MediaSettings
from veille.media.signals import EXACT_SIGNAL_TYPES
from veille.store.db import Database
from veille.store.models import MediaItem
from veille.store.sql import advisory_key
from veille.store.types import utcnow

_BATCH = 2000
_MATCH_BATCH = 2000
"""Media matched per step when every report is matched again."""

# The PostgreSQL advisory lock that serialises matching across processes.
MATCH_LOCK = "media-matching"

_TARGET_COLUMNS = (
    MediaItem.id, MediaItem.report_id, MediaItem.md5, MediaItem.sha1, MediaItem.sha256,
    MediaItem.pdq, MediaItem.pdq_quality,
)  # fmt: skip

MatchProgress = Callable[[str, int, int], None]
"""Called as ``(phase, done, total)`` while reports are matched; phases run in order."""


def _no_progress(_phase: str, _done: int, _total: int) -> None:
    return None


T = TypeVar("T")


@dataclass(frozen=True)
class MatchResult:
    """One known item matched by a query."""

    query: str
    signal_type: str
    distance_bits: int
    list_name: str
    item_id: int
    category: str | None
    series: str | None
    victim_identified: bool | None


@dataclass(frozen=True)
class MatchSummary:
    """What ``match_reports`` did."""

    media_items: int
    known_matches: int
    media_pairs: int
    clusters: ClusterSummary
    #: Reports beyond the matched ones whose content evidence changed (their
    #: cluster became known or viral, or merged into another).
    changed_reports: frozenset[int] = frozenset()


def _index_folder(folder: Path | None) -> Path:
    if folder is not None:
        return folder
    from veille.config import get_settings

    return get_settings().resolved_index_dir() / "pdq"


def list_thresholds(session: Session) -> dict[int, int]:
    """Each list's PDQ threshold in bits."""
    return {row[0]: row[1] for row in session.execute(select(HashList.id, HashList.threshold_bits))}


def _pdq_hits(index: KnownPdqIndex, pdq: str, thresholds: dict[int, int]) -> list[tuple[int, int]]:
    widest = max(thresholds.values(), default=31)
    return [
        (hit.item_id, hit.distance_bits)
        for hit in index.query(pdq, widest)
        if hit.distance_bits <= thresholds.get(hit.list_id, 31)
    ]


def _describe(
    session: Session, query: str, hits: Sequence[tuple[int, str, int]]
) -> list[MatchResult]:
    if not hits:
        return []
    items = {
        item.id: (item, name)
        for item, name in session.execute(
            select(KnownItem, HashList.name)
            .join(HashList, HashList.id == KnownItem.list_id)
            .where(KnownItem.id.in_({hit[0] for hit in hits}))
        ).all()
    }
    results = []
    for item_id, signal, distance in hits:
        item, list_name = items[item_id]
        results.append(
            MatchResult(query, signal, distance, list_name, item_id, item.category, item.series,
                        item.victim_identified)
        )  # fmt: skip
    return sorted(results, key=lambda r: (r.distance_bits, r.list_name, r.item_id, r.signal_type))


def _exact_hits(session: Session, signal: str, value: str) -> list[tuple[int, str, int]]:
    column = getattr(KnownItem, signal)
    ids = session.scalars(
        select(KnownItem.id).where(column == value, KnownItem.tombstoned_at.is_(None))
    )
    return [(item_id, signal, 0) for item_id in ids]


def match_query(
    session: Session,
    query: str,
    index_folder: Path | None = None,
    settings: MediaSettings | None = None,
) -> list[MatchResult]:
    """Known items matching a file path or a hash string (``md5:<hex>``, bare hex, ...)."""
    settings = settings or MediaSettings()
    thresholds = list_thresholds(session)
    hits: list[tuple[int, str, int]] = []
    path = Path(query)
    pdq: str | None = None
    if path.is_file():
        hashes = hash_file(path, HashOptions(quality_floor=settings.pdq_quality_floor))
        for signal in EXACT_SIGNAL_TYPES:
            value = getattr(hashes, signal.name)
            if value:
                hits.extend(_exact_hits(session, signal.name, value))
        quality = hashes.pdq_quality or 0
        if hashes.pdq and quality >= settings.pdq_quality_floor:
            pdq = hashes.pdq
    else:
        kind, value = parse_hash_argument(query)
        if kind == "pdq":
            pdq = value
            hits.extend(_exact_hits(session, "sha256", value))
        else:
            hits.extend(_exact_hits(session, kind, value))
    if pdq is not None:
        index = open_known_index(session, _index_folder(index_folder))
        hits.extend((item_id, "pdq", d) for item_id, d in _pdq_hits(index, pdq, thresholds))
    return _describe(session, query, hits)


def _chunks(values: Sequence[T], size: int = _BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _target_items(session: Session, report_ids: Collection[int]) -> list[Any]:
    rows: list[Any] = []
    for chunk in _chunks(sorted(set(report_ids))):
        rows.extend(
            session.execute(select(*_TARGET_COLUMNS).where(MediaItem.report_id.in_(chunk))).all()
        )
    return sorted(rows, key=lambda row: row[0])


def _known_matches(
    session: Session,
    targets: list[Any],
    index: KnownPdqIndex,
    floor: int,
) -> list[dict[str, Any]]:
    """Match rows of ``targets`` with live known items: exact hashes in SQL, PDQ in ``index``."""
    thresholds = list_thresholds(session)
    rows: list[dict[str, Any]] = []
    for signal in EXACT_SIGNAL_TYPES:
        by_value: dict[str, list[int]] = {}
        for target in targets:
            value = getattr(target, signal.name)
            if value:
                by_value.setdefault(value, []).append(target.id)
        values = sorted(by_value)
        column = getattr(KnownItem, signal.name)
        for chunk in _chunks(values):
            found = session.execute(
                select(KnownItem.id, column).where(
                    column.in_(chunk), KnownItem.tombstoned_at.is_(None)
                )
            ).all()
            for item_id, value in found:
                for media_id in by_value[value]:
                    rows.append(_match_row(media_id, signal.name, 0, known_item_id=item_id))
    for target in targets:
        if target.pdq and (target.pdq_quality or 0) >= floor:
            for item_id, distance in _pdq_hits(index, target.pdq, thresholds):
                rows.append(_match_row(target.id, "pdq", distance, known_item_id=item_id))
    return rows


def _match_row(
    media_id: int, signal: str, distance: int, known_item_id: int | None = None,
    other_media_item_id: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "media_item_id": media_id,
        "known_item_id": known_item_id,
        "other_media_item_id": other_media_item_id,
        "signal_type": signal,
        "distance_bits": distance,
        "matched_at": utcnow(),
    }


def _take_turn(session: Session) -> None:
    """Matching runs one at a time: it adds ``reported_hash`` rows and grows shared clusters.

    PostgreSQL: a transaction-level advisory lock, released at commit.
    SQLite: the write lock, taken before anything is read.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(advisory_key(MATCH_LOCK))))
    else:
        session.execute(delete(ReportedHash).where(false()))


class _Keys:
    """Which cluster (existing, or made in this batch) each media item is in, as pairing goes."""

    def __init__(self, cluster_of: dict[int, int]) -> None:
        self.cluster_of = cluster_of
        self.parent: dict[tuple[str, int], tuple[str, int]] = {}

    def find(self, media_id: int) -> tuple[str, int]:
        node = ("c", self.cluster_of[media_id]) if media_id in self.cluster_of else ("m", media_id)
        root = self.parent.setdefault(node, node)
        while self.parent[root] != root:
            root = self.parent[root]
        return root

    def union(self, left: int, right: int) -> None:
        a, b = self.find(left), self.find(right)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _pair(
    session: Session,
    targets: list[Any],
    settings: MediaSettings,
    index: ReportedPdqIndex,
    cluster_of: dict[int, int],
) -> list[dict[str, Any]]:
    """Edges from each target to every cluster it is near and not yet joined to.

    A target is compared with the distinct values of ``reported_hash`` (PDQ
    within the cluster threshold, identical SHA-256), not with every copy,
    and links to each cluster it meets once, through the nearest value.
    Values not seen before are added.
    """
    floor, threshold = settings.pdq_quality_floor, settings.cluster_threshold_bits
    index.refresh(session)
    hits = {
        t.id: index.query(t.pdq, threshold)
        for t in targets
        if t.pdq and (t.pdq_quality or 0) >= floor
    }
    sha_first = _known_values(session, "sha256", {t.sha256 for t in targets if t.sha256})
    others = {media for found in hits.values() for media, _d in found} | set(sha_first.values())
    # Items the index names but the database no longer has (a restored database): read again.
    if others and len(set(_existing_media(session, others))) < len(others):
        index.reset()
        return _pair(session, targets, settings, index, cluster_of)
    cluster_of.update(clusters_of_media(session, others - set(cluster_of)))
    keys = _Keys(cluster_of)
    batch_rows: list[Any] = []  # (PDQ row, media id) of values first seen in this batch
    batch_ids: list[int] = []
    new_values: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for target in targets:
        found = list(hits.get(target.id, []))
        if target.id in hits and batch_rows:
            positions, distances = brute_force(
                hex_to_rows([target.pdq])[0], np.array(batch_rows), threshold
            )
            found.extend(
                (batch_ids[p], int(d))
                for p, d in zip(positions.tolist(), distances.tolist(), strict=True)
            )
        if target.id in hits and not any(d == 0 for _m, d in found):
            new_values.append(
                {"signal_type": "pdq", "value": target.pdq, "media_item_id": target.id}
            )
            batch_rows.append(hex_to_rows([target.pdq])[0])
            batch_ids.append(target.id)
        candidates = [(d, m, "pdq") for m, d in found if m != target.id]
        if target.sha256:
            first = sha_first.get(target.sha256)
            if first is None:
                sha_first[target.sha256] = target.id
                new_values.append(
                    {"signal_type": "sha256", "value": target.sha256, "media_item_id": target.id}
                )
            elif first != target.id:
                candidates.append((0, first, "sha256"))
        for distance, other, signal in sorted(candidates):
            if keys.find(other) != keys.find(target.id):
                keys.union(target.id, other)
                low, high = min(other, target.id), max(other, target.id)
                edges.append(_match_row(low, signal, distance, other_media_item_id=high))
    if new_values:
        session.execute(insert(ReportedHash), new_values)
    return edges


def _known_values(session: Session, signal: str, values: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(values)):
        for value, media_id in session.execute(
            select(ReportedHash.value, ReportedHash.media_item_id).where(
                ReportedHash.signal_type == signal, ReportedHash.value.in_(chunk)
            )
        ):
            found[value] = media_id
    return found


def _existing_media(session: Session, media_ids: set[int]) -> list[int]:
    found: list[int] = []
    for chunk in _chunks(sorted(media_ids)):
        found.extend(session.scalars(select(MediaItem.id).where(MediaItem.id.in_(chunk))))
    return found


def _known_edges(session: Session, media_ids: list[int]) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    for chunk in _chunks(media_ids):
        for media_id, known_id in session.execute(
            select(MediaMatch.media_item_id, MediaMatch.known_item_id).where(
                MediaMatch.media_item_id.in_(chunk), MediaMatch.known_item_id.is_not(None)
            )
        ):
            if known_id is not None:
                found.setdefault(media_id, set()).add(known_id)
    return found


def _match_batch(
    session: Session,
    targets: list[Any],
    settings: MediaSettings,
    known_index: KnownPdqIndex,
    reported: ReportedPdqIndex,
) -> tuple[int, int, Outcome]:
    """Match one batch of media items; returns (known matches, pairs, what the clusters did)."""
    target_ids = [t.id for t in targets]
    cluster_of = clusters_of_media(session, target_ids)
    before = _known_edges(session, [i for i in target_ids if i in cluster_of])
    for chunk in _chunks(target_ids):
        session.execute(
            delete(MediaMatch).where(
                MediaMatch.media_item_id.in_(chunk), MediaMatch.known_item_id.is_not(None)
            )
        )
    known_rows = _known_matches(session, targets, known_index, settings.pdq_quality_floor)
    pair_rows = _pair(session, targets, settings, reported, dict(cluster_of))
    for rows in (known_rows, pair_rows):
        for chunk in _chunks(rows):
            session.execute(insert(MediaMatch), list(chunk))
    known: dict[int, list[tuple[int, bool]]] = {}
    for row in known_rows:
        exact = row["signal_type"] != "pdq" or row["distance_bits"] == 0
        known.setdefault(row["media_item_id"], []).append((row["known_item_id"], exact))
    lost = {
        media_id
        for media_id, was in before.items()
        if was - {known_id for known_id, _exact in known.get(media_id, [])}
    }
    new = members_of_reports(
        session, [(t.id, t.report_id) for t in targets if t.id not in cluster_of]
    )
    batch = Batch(
        new=new,
        rematched=[i for i in target_ids if i in cluster_of],
        pairs=[(r["media_item_id"], r["other_media_item_id"]) for r in pair_rows],
        known=known,
        lost_known=lost,
    )
    session.flush()

    def neighbours(session: Session, media_ids: list[int]) -> list[tuple[int, int]]:
        return _neighbour_pairs(session, media_ids, settings, reported)

    return len(known_rows), len(pair_rows), place(session, settings, batch, neighbours)


def _neighbour_pairs(
    session: Session, media_ids: list[int], settings: MediaSettings, index: ReportedPdqIndex
) -> list[tuple[int, int]]:
    """Each item with the first item of every reported value near it (PDQ, same SHA-256)."""
    index.refresh(session)
    rows: list[Any] = []
    for chunk in _chunks(media_ids):
        rows.extend(session.execute(select(*_TARGET_COLUMNS).where(MediaItem.id.in_(chunk))))
    sha_first = _known_values(session, "sha256", {r.sha256 for r in rows if r.sha256})
    pairs: list[tuple[int, int]] = []
    for row in rows:
        if row.pdq and (row.pdq_quality or 0) >= settings.pdq_quality_floor:
            pairs.extend(
                (row.id, other)
                for other, _distance in index.query(row.pdq, settings.cluster_threshold_bits)
            )
        if row.sha256 and row.sha256 in sha_first:
            pairs.append((row.id, sha_first[row.sha256]))
    return pairs


def _summary(session: Session, media_ids: list[int]) -> ClusterSummary:
    labels: dict[str, int] = {"known": 0, "new_version": 0, "new": 0}
    clusters: set[int] = set()
    for chunk in _chunks(media_ids):
        for label, cluster_id in session.execute(
            select(MediaClassification.classification, MediaClassification.cluster_id).where(
                MediaClassification.media_item_id.in_(chunk)
            )
        ):
            labels[label] += 1
            if cluster_id is not None:
                clusters.add(cluster_id)
    viral = 0
    for chunk in _chunks(sorted(clusters)):
        viral += (
            session.scalar(
                select(func.count()).where(ContentCluster.id.in_(chunk), ContentCluster.viral)
            )
            or 0
        )
    return ClusterSummary(
        len(clusters), labels["known"], labels["new_version"], labels["new"], viral
    )


def _forget_everything(session: Session) -> None:
    """Before matching every report again: what matching derived goes (not the lists)."""
    for table in (MediaMatch, MediaClassification, ContentCluster, ReportedHash):
        session.execute(delete(table))


def match_reports(
    database: Database,
    report_ids: Collection[int] | None = None,
    settings: MediaSettings | None = None,
    index_folder: Path | None = None,
    on_progress: MatchProgress | None = None,
) -> MatchSummary:
    """Match the media of ``report_ids`` (default: every report, from scratch).

    Known-item matches of those media are found again, so re-running after a
    list changed gives the current answer; media are paired with reported
    media they have not met yet, and the clusters they touch are brought up
    to date (:mod:`veille.media.cluster_upkeep`). Without ``report_ids``,
    everything matching derived is dropped and rebuilt, media in id order.
    ``on_progress`` hears each phase.
    """
    progress = on_progress or _no_progress
    settings = settings or MediaSettings()
    with database.session() as session:
        _take_turn(session)
        known_index = open_known_index(session, _index_folder(index_folder))
        reported = reported_index(database.engine.url.render_as_string(hide_password=True))
        with reported.lock:
            if report_ids is None:
                _forget_everything(session)
                targets = list(session.execute(select(*_TARGET_COLUMNS).order_by(MediaItem.id)))
            else:
                targets = _target_items(session, report_ids)
            known = pairs = 0
            changed: set[int] = set()
            phase = "matching media and growing content clusters"
            progress(phase, 0, len(targets))
            for done, chunk in enumerate(_chunks(targets, _MATCH_BATCH), 1):
                found_known, found_pairs, outcome = _match_batch(
                    session, list(chunk), settings, known_index, reported
                )
                known, pairs = known + found_known, pairs + found_pairs
                changed |= outcome.changed_reports
                progress(phase, min(done * _MATCH_BATCH, len(targets)), len(targets))
            summary = _summary(session, [t.id for t in targets])
    return MatchSummary(len(targets), known, pairs, summary, frozenset(changed))
