"""Matching hashes, files and stored reports against the hash lists.

``match_query`` answers ``veille match`` for one file or hash string.
``match_reports`` matches the media items of stored reports (exact hashes in
SQL, PDQ through the persisted index), finds near-duplicates among reported
media, writes ``media_match`` rows, and then recomputes content clusters and
classifications (``veille.media.clusters``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from veille.media.clusters import ClusterSummary, recompute_clusters
from veille.media.hashing import HashOptions, hash_file
from veille.media.index import KnownPdqIndex, open_known_index
from veille.media.lists import parse_hash_argument
from veille.media.mih import MihIndex, hex_to_rows
from veille.media.models import HashList, KnownItem, MediaMatch
from veille.media.settings import MediaSettings
from veille.media.signals import EXACT_SIGNAL_TYPES
from veille.store.db import Database
from veille.store.models import MediaItem
from veille.store.types import utcnow

_BATCH = 2000

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


def _target_items(session: Session, report_ids: Collection[int] | None) -> list[Any]:
    columns = (
        MediaItem.id, MediaItem.md5, MediaItem.sha1, MediaItem.sha256, MediaItem.pdq,
        MediaItem.pdq_quality,
    )  # fmt: skip
    if report_ids is None:
        return list(session.execute(select(*columns).order_by(MediaItem.id)).all())
    rows: list[Any] = []
    for chunk in _chunks(sorted(set(report_ids))):
        rows.extend(session.execute(select(*columns).where(MediaItem.report_id.in_(chunk))).all())
    return sorted(rows, key=lambda row: row[0])


def _known_matches(
    session: Session,
    targets: list[Any],
    index: KnownPdqIndex,
    floor: int,
    on_progress: MatchProgress = _no_progress,
) -> list[dict[str, Any]]:
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
    phase = "matching media against the hash lists"
    on_progress(phase, 0, len(targets))
    for done, target in enumerate(targets, 1):
        if target.pdq and (target.pdq_quality or 0) >= floor:
            for item_id, distance in _pdq_hits(index, target.pdq, thresholds):
                rows.append(_match_row(target.id, "pdq", distance, known_item_id=item_id))
        if done % _BATCH == 0 or done == len(targets):
            on_progress(phase, done, len(targets))
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


def _media_pairs(
    session: Session,
    targets: list[Any],
    floor: int,
    threshold: int,
    on_progress: MatchProgress = _no_progress,
) -> list[dict[str, Any]]:
    all_items = session.execute(
        select(MediaItem.id, MediaItem.pdq).where(
            MediaItem.pdq.is_not(None), MediaItem.pdq_quality >= floor
        ).order_by(MediaItem.id)
    ).all()  # fmt: skip
    pairs: dict[tuple[int, int], tuple[str, int]] = {}
    if all_items:
        ids = np.array([row[0] for row in all_items], dtype=np.int64)
        index = MihIndex.build(hex_to_rows([str(row[1]) for row in all_items]))
        phase = "pairing similar media"
        on_progress(phase, 0, len(targets))
        for done, target in enumerate(targets, 1):
            if done % _BATCH == 0 or done == len(targets):
                on_progress(phase, done, len(targets))
            if not target.pdq or (target.pdq_quality or 0) < floor:
                continue
            positions, distances = index.query(hex_to_rows([target.pdq])[0], threshold)
            for position, distance in zip(positions.tolist(), distances.tolist(), strict=True):
                other = int(ids[position])
                if other != target.id:
                    pairs[(min(other, target.id), max(other, target.id))] = ("pdq", distance)
    # Identical files that are not images (videos, archives) pair up by SHA-256.
    target_sha = {t.sha256 for t in targets if t.sha256}
    target_set = {t.id for t in targets}
    duplicated = session.execute(
        select(MediaItem.sha256, func.min(MediaItem.id))
        .where(MediaItem.sha256.is_not(None))
        .group_by(MediaItem.sha256)
        .having(func.count(MediaItem.id) > 1)
    ).all()
    for sha256, first_id in duplicated:
        if sha256 not in target_sha:
            continue
        for other in session.scalars(select(MediaItem.id).where(MediaItem.sha256 == sha256)):
            if other != first_id and (first_id in target_set or other in target_set):
                pairs.setdefault((first_id, other), ("sha256", 0))
    return [
        _match_row(low, signal, distance, other_media_item_id=high)
        for (low, high), (signal, distance) in sorted(pairs.items())
    ]


def match_reports(
    database: Database,
    report_ids: Collection[int] | None = None,
    settings: MediaSettings | None = None,
    index_folder: Path | None = None,
    on_progress: MatchProgress | None = None,
) -> MatchSummary:
    """Match the media of ``report_ids`` (default: every report) and refresh the clusters.

    Earlier match rows of those media items are replaced, so re-running after
    a list changed gives the current answer. ``on_progress`` hears each phase.
    """
    progress = on_progress or _no_progress
    settings = settings or MediaSettings()
    with database.session() as session:
        targets = _target_items(session, report_ids)
        target_ids = [t.id for t in targets]
        for chunk in _chunks(target_ids):
            session.execute(
                delete(MediaMatch).where(
                    or_(
                        MediaMatch.media_item_id.in_(chunk),
                        MediaMatch.other_media_item_id.in_(chunk),
                    )
                )
            )
        index = open_known_index(session, _index_folder(index_folder))
        known_rows = _known_matches(session, targets, index, settings.pdq_quality_floor, progress)
        pair_rows = _media_pairs(
            session, targets, settings.pdq_quality_floor, settings.cluster_threshold_bits, progress
        )
        stored, total_rows = 0, len(known_rows) + len(pair_rows)
        progress("storing matches", 0, total_rows)
        for rows in (known_rows, pair_rows):
            for start in range(0, len(rows), _BATCH):
                session.execute(insert(MediaMatch), rows[start : start + _BATCH])
                stored += len(rows[start : start + _BATCH])
                progress("storing matches", stored, total_rows)
        session.flush()
        progress("grouping media into content clusters", 0, 1)
        clusters = recompute_clusters(session, settings)
        progress("grouping media into content clusters", 1, 1)
    return MatchSummary(len(targets), len(known_rows), len(pair_rows), clusters)
