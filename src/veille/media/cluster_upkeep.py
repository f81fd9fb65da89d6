"""Keeping content clusters up to date as matched media join them.

A content cluster is a connected component of the graph whose edges are the
match rows (reported media ↔ reported media, reported media ↔ known item).
Matching hands this module the media it just matched and the edges it
found; each batch then changes only the clusters it touches:

- new media join the cluster their edges lead to; a cluster's counts grow
  by what joins it (distinct reports, sharers and countries are checked
  against the cluster's member rows through indexes), and the peak of
  reporters in a window is recomputed only over the time around the new
  members (only windows that hold a new member can have grown);
- when a batch joins several clusters, the largest keeps its id and the
  others' members move to it: each item moves at most log2(n) times over
  the clusters' lifetimes, since it only ever moves into a larger cluster;
- when media already clustered lose an edge to a known item (a list item
  was removed), their clusters may split: those clusters are rebuilt from
  their stored edges (work in proportion to their size; this follows an
  administrative change, not intake).

A batch's work thus grows with the batch and the clusters it merges or
rebuilds, never with the whole database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from veille.media.clusters import peak_reporters
from veille.media.models import ContentCluster, KnownItem, MediaClassification, MediaMatch
from veille.media.settings import MediaSettings
from veille.store.models import Report, ReportIdentifier
from veille.store.types import utcnow

_CHUNK = 500


@dataclass(frozen=True)
class Member:
    """A media item as its cluster counts it."""

    media_id: int
    report_id: int
    sharer: str
    country: str | None
    received_at: datetime


@dataclass
class Batch:
    """What one matching run found, for the clusters.

    ``new``: matched media not yet in any cluster; ``rematched``: media
    already clustered whose known-item edges were recomputed; ``pairs``: the
    media ↔ media edges found for the new media; ``known``: each matched
    item's live known items, with whether the match is exact; ``lost_known``:
    re-matched media that lost a known-item edge.
    """

    new: list[Member]
    rematched: list[int] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)
    known: dict[int, list[tuple[int, bool]]] = field(default_factory=dict)
    lost_known: set[int] = field(default_factory=set)


@dataclass
class Outcome:
    """What the batch changed: the clusters its media are in, and reports to re-examine."""

    cluster_of: dict[int, int] = field(default_factory=dict)
    #: Reports whose content evidence changed beyond the batch's own (their cluster
    #: became known or viral, or merged into another).
    changed_reports: set[int] = field(default_factory=set)


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def sharer_key(source: str, first_identifier: int | None, report_id: int) -> str:
    """Who shared a reported item, as far as its report tells.

    One source (an ESP, a hotline) sends reports about many different users,
    so the source alone cannot tell a viral wave from one offender's
    distribution. A report's sharer is the reported account (its lowest
    identifier) within its source, or the report itself when it names none.
    """
    if first_identifier is None:
        return f"{source}|report:{report_id}"
    return f"{source}|identifier:{first_identifier}"


def members_of_reports(session: Session, media: Sequence[tuple[int, int]]) -> list[Member]:
    """:class:`Member` rows for ``(media id, report id)`` pairs, read from their reports."""
    report_ids = sorted({report_id for _media, report_id in media})
    first_identifier = (
        select(func.min(ReportIdentifier.identifier_id))
        .where(ReportIdentifier.report_id == Report.id)
        .scalar_subquery()
    )
    reports: dict[int, Any] = {}
    for chunk in _chunks(report_ids):
        for row in session.execute(
            select(
                Report.id, Report.source, Report.derived_country, Report.received_at,
                first_identifier,
            ).where(Report.id.in_(chunk))
        ):  # fmt: skip
            reports[row[0]] = row
    return [
        Member(
            media_id,
            report_id,
            sharer_key(reports[report_id][1], reports[report_id][4], report_id),
            reports[report_id][2],
            reports[report_id][3],
        )
        for media_id, report_id in media
    ]


class _Groups:
    """Union-find over tagged nodes: ("m", media id), ("c", cluster id), ("k", known id)."""

    def __init__(self) -> None:
        self.parent: dict[tuple[str, int], tuple[str, int]] = {}

    def find(self, node: tuple[str, int]) -> tuple[str, int]:
        root = self.parent.setdefault(node, node)
        while self.parent[root] != root:
            root = self.parent[root]
        while node != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, left: tuple[str, int], right: tuple[str, int]) -> None:
        a, b = self.find(left), self.find(right)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def components(self) -> dict[tuple[str, int], list[tuple[str, int]]]:
        found: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
        for node in list(self.parent):
            found[self.find(node)].append(node)
        return found


def _label(media_id: int, known: dict[int, list[tuple[int, bool]]], cluster_known: bool) -> str:
    hits = known.get(media_id, [])
    if any(exact for _known_id, exact in hits):
        return "known"
    if hits or cluster_known:
        return "new_version"
    return "new"


def clusters_of_media(session: Session, media_ids: Collection[int]) -> dict[int, int]:
    """Media item → its content cluster, for the items that are in one."""
    found: dict[int, int] = {}
    for chunk in _chunks(sorted(media_ids)):
        for media_id, cluster_id in session.execute(
            select(MediaClassification.media_item_id, MediaClassification.cluster_id).where(
                MediaClassification.media_item_id.in_(chunk),
                MediaClassification.cluster_id.is_not(None),
            )
        ):
            if cluster_id is not None:
                found[media_id] = cluster_id
    return found


def _clusters_of_known(session: Session, known_ids: Collection[int]) -> dict[int, int]:
    """Known item → the cluster that holds media matched to it (one: they are all in it)."""
    first_cluster = (
        select(MediaClassification.cluster_id)
        .join(MediaMatch, MediaMatch.media_item_id == MediaClassification.media_item_id)
        .where(
            MediaMatch.known_item_id == KnownItem.id, MediaClassification.cluster_id.is_not(None)
        )
        .limit(1)
        .scalar_subquery()
    )
    found: dict[int, int] = {}
    for chunk in _chunks(sorted(known_ids)):
        for known_id, cluster_id in session.execute(
            select(KnownItem.id, first_cluster).where(KnownItem.id.in_(chunk))
        ):
            if cluster_id is not None:
                found[known_id] = cluster_id
    return found


def _events_between(
    session: Session, cluster_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, str]]:
    return [
        (row[0], row[1])
        for row in session.execute(
            select(MediaClassification.received_at, MediaClassification.sharer).where(
                MediaClassification.cluster_id == cluster_id,
                MediaClassification.received_at >= start,
                MediaClassification.received_at <= end,
            )
        )
    ]


def _member_rows(session: Session, cluster_ids: Collection[int]) -> list[Member]:
    rows: list[Member] = []
    for chunk in _chunks(sorted(cluster_ids)):
        rows.extend(
            Member(r[0], r[1], r[2], r[3], r[4])
            for r in session.execute(
                select(
                    MediaClassification.media_item_id, MediaClassification.report_id,
                    MediaClassification.sharer, MediaClassification.country,
                    MediaClassification.received_at,
                ).where(MediaClassification.cluster_id.in_(chunk))
            )
        )  # fmt: skip
    return rows


def _full_counts(members: Sequence[Member], window: timedelta) -> dict[str, Any]:
    events = sorted((m.received_at, m.sharer) for m in members)
    return {
        "media_count": len(members),
        "report_count": len({m.report_id for m in members}),
        "reporter_count": len({m.sharer for m in members}),
        "country_count": len({m.country for m in members if m.country}),
        "peak_reporters_in_window": peak_reporters(events, window),
        "first_received_at": events[0][0],
        "last_received_at": events[-1][0],
    }


@dataclass
class Present:
    """Which of the values new members bring a cluster's members already have."""

    sharers: set[str]
    reports: set[int]
    countries: set[str]


def _new_values(added: Sequence[Member]) -> tuple[set[str], set[int], set[str]]:
    return (
        {m.sharer for m in added},
        {m.report_id for m in added},
        {m.country for m in added if m.country},
    )


def _present_in(session: Session, added: Mapping[int, Sequence[Member]]) -> dict[int, Present]:
    """For each cluster, the values of ``added`` its members already have (indexed).

    A few queries per column for all the clusters, whatever their number.
    """
    c = MediaClassification
    wanted = {cluster_id: _new_values(members) for cluster_id, members in added.items()}
    found: dict[int, tuple[set[Any], set[Any], set[Any]]] = {
        cluster_id: (set(), set(), set()) for cluster_id in added
    }
    for position, column in enumerate((c.sharer, c.report_id, c.country)):
        values: set[Any] = set().union(*(w[position] for w in wanted.values()))
        if not values:
            continue
        for id_chunk in _chunks(sorted(added)):
            for value_chunk in _chunks(sorted(values)):
                for cluster_id, value in session.execute(
                    select(c.cluster_id, column)
                    .where(c.cluster_id.in_(id_chunk), column.in_(value_chunk))
                    .distinct()
                ):
                    if cluster_id is not None and value in wanted[cluster_id][position]:
                        found[cluster_id][position].add(value)
    return {cluster_id: Present(*sets) for cluster_id, sets in found.items()}


def _grown_counts(
    session: Session,
    cluster: ContentCluster,
    added: Sequence[Member],
    window: timedelta,
    present: Present,
) -> dict[str, Any]:
    """The counts of ``cluster`` once ``added`` (not yet written) join it."""
    new_sharers, new_reports, new_countries = _new_values(added)
    reporter_count = cluster.reporter_count + len(new_sharers - present.sharers)
    times = [m.received_at for m in added]
    first = min([cluster.first_received_at, *times] if cluster.first_received_at else times)
    last = max([cluster.last_received_at, *times] if cluster.last_received_at else times)
    if last - first <= window:
        # The whole cluster fits in one window: every reporter is in it.
        peak = reporter_count
    else:
        # Only windows that hold a new member can have grown; they lie within a
        # window's length of the new members.
        start, end = min(times) - window, max(times) + window
        events = _events_between(session, cluster.id, start, end)
        events.extend((m.received_at, m.sharer) for m in added)
        peak = max(cluster.peak_reporters_in_window, peak_reporters(sorted(events), window))
    return {
        "media_count": cluster.media_count + len(added),
        "report_count": cluster.report_count + len(new_reports - present.reports),
        "reporter_count": reporter_count,
        "country_count": cluster.country_count + len(new_countries - present.countries),
        "peak_reporters_in_window": peak,
        "first_received_at": first,
        "last_received_at": last,
    }


def _classification_row(
    member: Member, label: str, cluster_id: int, now: datetime
) -> dict[str, Any]:
    return {
        "media_item_id": member.media_id,
        "classification": label,
        "cluster_id": cluster_id,
        "matched_at": now,
        "report_id": member.report_id,
        "sharer": member.sharer,
        "country": member.country,
        "received_at": member.received_at,
    }


def _known_now(session: Session, cluster_id: int) -> None:
    """The cluster holds known content now: its media that were ``new`` are new versions."""
    session.execute(
        update(MediaClassification)
        .where(
            MediaClassification.cluster_id == cluster_id,
            MediaClassification.classification == "new",
        )
        .values(classification="new_version")
    )


def _reports_of_cluster(session: Session, cluster_id: int) -> set[int]:
    return set(
        session.scalars(
            select(MediaClassification.report_id)
            .where(MediaClassification.cluster_id == cluster_id)
            .distinct()
        )
    )


Neighbours = Callable[[Session, list[int]], list[tuple[int, int]]]
"""``(media id, other media id)`` for each reported media value near each given item."""


class _Upkeep:
    def __init__(
        self, session: Session, settings: MediaSettings, batch: Batch, neighbours: Neighbours
    ) -> None:
        self.session, self.settings, self.batch = session, settings, batch
        self.neighbours = neighbours
        self.window = timedelta(hours=settings.viral_window_hours)
        self.now = utcnow()
        self.outcome = Outcome()
        self.new_by_id = {m.media_id: m for m in batch.new}
        self.founded_clusters: list[dict[str, Any]] = []
        self.founded_rows: list[dict[str, Any]] = []

    def run(self) -> Outcome:
        batch = self.batch
        known_ids = {k for hits in batch.known.values() for k, _exact in hits}
        existing_media = {m for pair in batch.pairs for m in pair if m not in self.new_by_id}
        existing_media.update(batch.rematched)
        cluster_of = clusters_of_media(self.session, existing_media)
        known_cluster = _clusters_of_known(self.session, known_ids)
        groups = _Groups()

        def node(media_id: int) -> tuple[str, int]:
            if media_id in self.new_by_id or media_id not in cluster_of:
                return ("m", media_id)
            return ("c", cluster_of[media_id])

        for member in batch.new:
            groups.find(("m", member.media_id))
        for media_id in batch.rematched:
            groups.find(node(media_id))
        for target, other in batch.pairs:
            groups.union(node(target), node(other))
        for media_id, hits in batch.known.items():
            for known_id, _exact in hits:
                groups.union(node(media_id), ("k", known_id))
                if known_id in known_cluster:
                    groups.union(("k", known_id), ("c", known_cluster[known_id]))
        splitting = {node(m) for m in batch.lost_known}
        joining: list[tuple[int, list[int], bool]] = []
        for nodes in groups.components().values():
            existing = sorted({n[1] for n in nodes if n[0] == "c"})
            new_ids = sorted(n[1] for n in nodes if n[0] == "m" and n[1] in self.new_by_id)
            rematched_here = [m for m in batch.rematched if node(m) in nodes]
            if not existing and not new_ids:
                continue
            known_here = {n[1] for n in nodes if n[0] == "k"}
            if splitting & set(nodes):
                self._rebuild(existing, new_ids)
            elif not existing and not rematched_here:
                self._found(new_ids, bool(known_here))
            elif len(existing) == 1 and new_ids and not rematched_here:
                joining.append((existing[0], new_ids, bool(known_here)))
            else:
                self._grow(existing, new_ids, rematched_here, bool(known_here))
        self._join(joining)
        self._write_founded()
        return self.outcome

    def _join(self, joining: list[tuple[int, list[int], bool]]) -> None:
        """New media that join one existing cluster each: what ``_grow`` does, batched.

        The clusters are read, and the values their members already have are
        looked up, for all of them at once; the new members' rows are written
        with the new clusters' at the end.
        """
        if not joining:
            return
        session = self.session
        clusters: dict[int, ContentCluster] = {}
        for chunk in _chunks(sorted(cluster_id for cluster_id, _ids, _known in joining)):
            clusters.update(
                (c.id, c)
                for c in session.scalars(select(ContentCluster).where(ContentCluster.id.in_(chunk)))
            )
        added = {
            cluster_id: [self.new_by_id[i] for i in new_ids]
            for cluster_id, new_ids, _known in joining
        }
        present = _present_in(session, added)
        for cluster_id, _new_ids, has_known in joining:
            cluster, members = clusters[cluster_id], added[cluster_id]
            was_known, was_viral = cluster.known, cluster.viral
            is_known = has_known or was_known
            counts = _grown_counts(session, cluster, members, self.window, present[cluster_id])
            for name, value in counts.items():
                setattr(cluster, name, value)
            cluster.known = is_known
            cluster.viral = cluster.peak_reporters_in_window >= self.settings.viral_min_reporters
            cluster.updated_at = self.now
            self._place(members, cluster_id, is_known)
            if is_known and not was_known:
                _known_now(session, cluster_id)
            if (is_known and not was_known) or (cluster.viral and not was_viral):
                self.outcome.changed_reports.update(_reports_of_cluster(session, cluster_id))
                self.outcome.changed_reports.update(m.report_id for m in members)
        session.flush()

    def _found(self, new_ids: list[int], is_known: bool) -> None:
        """A cluster of new media only: its rows are written with the others at the end.

        Most media of a batch are content seen for the first time, each a
        cluster of its own: writing them together keeps the database round
        trips per batch constant instead of a few per medium.
        """
        members = [self.new_by_id[i] for i in new_ids]
        cluster_id = new_ids[0]
        counts = _full_counts(members, self.window)
        viral = counts["peak_reporters_in_window"] >= self.settings.viral_min_reporters
        self.founded_clusters.append(
            {"id": cluster_id, "known": is_known, "viral": viral, "updated_at": self.now, **counts}
        )
        self._place(members, cluster_id, is_known)

    def _place(self, members: Sequence[Member], cluster_id: int, is_known: bool) -> None:
        """Queue the new members' rows in ``cluster_id`` (written by :meth:`_write_founded`)."""
        for member in members:
            label = _label(member.media_id, self.batch.known, is_known)
            self.founded_rows.append(_classification_row(member, label, cluster_id, self.now))
            self.outcome.cluster_of[member.media_id] = cluster_id

    def _write_founded(self) -> None:
        for chunk in _chunks(self.founded_clusters):
            self.session.execute(insert(ContentCluster), list(chunk))
        for chunk in _chunks(self.founded_rows):
            self.session.execute(insert(MediaClassification), list(chunk))

    def _grow(
        self, existing: list[int], new_ids: list[int], rematched: list[int], has_known: bool
    ) -> None:
        session = self.session
        clusters = {
            c.id: c
            for c in session.scalars(select(ContentCluster).where(ContentCluster.id.in_(existing)))
        }
        new_members = [self.new_by_id[i] for i in new_ids]
        if clusters:
            survivor = max(clusters.values(), key=lambda c: (c.media_count, -c.id))
            merged = [c for c in clusters.values() if c.id != survivor.id]
        else:
            survivor = None
            merged = []
        moved = _member_rows(session, [c.id for c in merged]) if merged else []
        added = new_members + moved
        was_known = bool(survivor and survivor.known)
        was_viral = bool(survivor and survivor.viral)
        is_known = has_known or was_known or any(c.known for c in merged)
        if survivor is None:
            cluster_id = min(new_ids)
            counts: dict[str, Any] | None = _full_counts(added, self.window)
        else:
            cluster_id = survivor.id
            counts = (
                _grown_counts(
                    session,
                    survivor,
                    added,
                    self.window,
                    _present_in(session, {survivor.id: added})[survivor.id],
                )
                if added
                else None
            )
        if merged:
            merged_ids = [c.id for c in merged]
            session.execute(
                update(MediaClassification)
                .where(MediaClassification.cluster_id.in_(merged_ids))
                .values(cluster_id=cluster_id)
            )
            session.execute(delete(ContentCluster).where(ContentCluster.id.in_(merged_ids)))
            self.outcome.changed_reports.update(m.report_id for m in moved)
        if new_members:
            session.execute(
                insert(MediaClassification),
                [
                    _classification_row(
                        m, _label(m.media_id, self.batch.known, is_known), cluster_id, self.now
                    )
                    for m in new_members
                ],
            )
        for media_id in rematched:
            session.execute(
                update(MediaClassification)
                .where(MediaClassification.media_item_id == media_id)
                .values(
                    classification=_label(media_id, self.batch.known, is_known),
                    matched_at=self.now,
                )
            )
        if survivor is None:
            assert counts is not None
            viral = counts["peak_reporters_in_window"] >= self.settings.viral_min_reporters
            session.add(
                ContentCluster(
                    id=cluster_id, known=is_known, viral=viral, updated_at=self.now, **counts
                )
            )
        else:
            if counts is not None:
                for name, value in counts.items():
                    setattr(survivor, name, value)
            survivor.known = is_known
            survivor.viral = survivor.peak_reporters_in_window >= self.settings.viral_min_reporters
            survivor.updated_at = self.now
            viral = survivor.viral
        session.flush()
        # Media of a cluster that was not known are new versions once it is (or once
        # it merges into a known one).
        if (
            survivor is not None
            and is_known
            and (not was_known or any(not c.known for c in merged))
        ):
            _known_now(session, cluster_id)
        if survivor is not None and ((is_known and not was_known) or (viral and not was_viral)):
            self.outcome.changed_reports.update(_reports_of_cluster(session, cluster_id))
        for media_id in [*new_ids, *rematched]:
            self.outcome.cluster_of[media_id] = cluster_id

    def _rebuild(self, existing: list[int], new_ids: list[int]) -> None:
        """Rebuild the clusters ``existing`` plus new media from their stored edges."""
        session = self.session
        members = {m.media_id: m for m in _member_rows(session, existing)}
        members.update((i, self.new_by_id[i]) for i in new_ids)
        ids = sorted(members)
        groups = _Groups()
        exact: set[int] = set()
        near: set[int] = set()
        for media_id in ids:
            groups.find(("m", media_id))
        for chunk in _chunks(ids):
            for media_id, known_id, signal, distance in session.execute(
                select(
                    MediaMatch.media_item_id, MediaMatch.known_item_id,
                    MediaMatch.signal_type, MediaMatch.distance_bits,
                )
                .join(KnownItem, KnownItem.id == MediaMatch.known_item_id)
                .where(MediaMatch.media_item_id.in_(chunk), KnownItem.tombstoned_at.is_(None))
            ):  # fmt: skip
                if known_id is None:  # the join makes it a known item; for the type checker
                    continue
                groups.union(("m", media_id), ("k", known_id))
                (exact if signal != "pdq" or distance == 0 else near).add(media_id)
        # Stored media ↔ media edges are one per cluster met, and a cluster met may
        # have been held together by the known item just lost: pair the members
        # again from their hashes instead.
        for media_id, other_id in self.neighbours(session, ids):
            if other_id in members:
                groups.union(("m", media_id), ("m", other_id))
        old_reports = {m.report_id for m in members.values()}
        for chunk in _chunks(ids):
            session.execute(
                delete(MediaClassification).where(MediaClassification.media_item_id.in_(chunk))
            )
        session.execute(delete(ContentCluster).where(ContentCluster.id.in_(existing)))
        rows: list[dict[str, Any]] = []
        for nodes in groups.components().values():
            media_ids = sorted(n[1] for n in nodes if n[0] == "m")
            if not media_ids:
                continue
            is_known = any(n[0] == "k" for n in nodes)
            cluster_id = media_ids[0]
            counts = _full_counts([members[i] for i in media_ids], self.window)
            viral = counts["peak_reporters_in_window"] >= self.settings.viral_min_reporters
            session.add(
                ContentCluster(
                    id=cluster_id, known=is_known, viral=viral, updated_at=self.now, **counts
                )
            )
            for media_id in media_ids:
                label = (
                    "known"
                    if media_id in exact
                    else "new_version"
                    if media_id in near or is_known
                    else "new"
                )
                rows.append(_classification_row(members[media_id], label, cluster_id, self.now))
                self.outcome.cluster_of[media_id] = cluster_id
        for chunk in _chunks(rows):
            session.execute(insert(MediaClassification), list(chunk))
        session.flush()
        self.outcome.changed_reports.update(old_reports)


def place(
    session: Session, settings: MediaSettings, batch: Batch, neighbours: Neighbours
) -> Outcome:
    """Put the batch's media in their clusters and bring those clusters' counts up to date.

    ``neighbours`` pairs media again from their hashes when clusters are rebuilt.
    """
    return _Upkeep(session, settings, batch, neighbours).run()
