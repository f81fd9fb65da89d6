"""Incremental linking: new reports join or merge case clusters.

Each run takes the reports that have no cluster yet, in id order, in chunks.
A report's *linking keys* are its identifiers (keyed per platform, see
:mod:`veille.linking.profiles`) and the content clusters of its media, minus
the stop-list. For every key the first report that carried it is its anchor;
a new report carrying the key is linked to the anchor (the link and its key
are stored as evidence) and their clusters are united, the smaller cluster
being relabelled into the larger. Nothing already linked is recomputed.

A TLP:RED report never leaves its owner, and neither does anything derived
from it: it is linked only with red reports of the same owner (its keys have
anchors of their own, :func:`_anchor_key`), so it never joins, bridges or
enlarges a cluster that another agency, or its owner's shareable reports,
are part of.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from veille.core.bulk import insert_rows
from veille.linking.candidates import CandidateFinder
from veille.linking.deconfliction import refresh_alerts
from veille.linking.gateways import shared_addresses
from veille.linking.media_bridge import (
    ContentClusterSource,
    content_cluster_source,
    media_signal_source,
)
from veille.linking.models import (
    CandidateLink,
    CaseCluster,
    DeconflictionAlert,
    LinkAnchor,
    ReportCluster,
    ReportLink,
    StopEntry,
    new_public_id,
)
from veille.linking.profiles import linking_key
from veille.linking.stoplist import LinkLimits, StopList, add_stop_entries, load_stop_list
from veille.linking.suspects import SuspectIndex, key_range, person_key, read_suspect
from veille.persons import PersonRecord
from veille.store.audit import current_actor, record_event
from veille.store.db import Database, PlannerStatistics
from veille.store.models import Identifier, Report, ReportIdentifier
from veille.store.sql import among
from veille.store.types import utcnow
from veille.vocab import CountryReason, IdentifierKind, Marking

CHUNK_SIZE = 5000
_IN_BATCH = 900


@dataclass
class LinkRunSummary:
    """What one linking run did."""

    reports_linked: int = 0
    links_recorded: int = 0
    clusters_merged: int = 0
    keys_stopped: int = 0
    alerts_raised: int = 0
    elapsed_s: float = 0.0
    affected_report_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        """Printable counts."""
        return {
            "reports_linked": self.reports_linked,
            "links_recorded": self.links_recorded,
            "clusters_merged": self.clusters_merged,
            "keys_stopped": self.keys_stopped,
            "alerts_raised": self.alerts_raised,
            "reports_to_rescore": len(self.affected_report_ids),
            "elapsed_s": round(self.elapsed_s, 2),
        }


def _batches(values: Iterable[Any], size: int = _IN_BATCH) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Clusters:
    """In-memory union-find over cluster labels (report ids) for one chunk."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.existing: set[int] = set()

    def add(self, label: int, size: int, *, existing: bool) -> None:
        if label not in self.parent:
            self.parent[label] = label
            self.size[label] = size
            if existing:
                self.existing.add(label)

    def find(self, label: int) -> int:
        parent = self.parent
        while parent[label] != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    def union(self, a: int, b: int) -> bool:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return False
        # The larger cluster keeps its label so that fewer rows are relabelled.
        if (self.size[root_a], -root_a) < (self.size[root_b], -root_b):
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.size[root_a] += self.size[root_b]
        return True


def _common_keys(
    session: Session, limits: LinkLimits, content: dict[int, set[int]] | None
) -> dict[str, tuple[str, int | None]]:
    """Keys of unlinked reports seen in too many reports or agencies: key → (reason, count)."""
    pending_link = aliased(ReportIdentifier)
    linked = aliased(ReportCluster)
    pending_identifiers = select(pending_link.identifier_id).where(
        ~exists(select(linked.report_id).where(linked.report_id == pending_link.report_id))
    )
    report_count = func.count(ReportIdentifier.report_id)
    agency_count = func.count(func.distinct(Report.owner_agency_id))
    # Stop entries are read by every operator: red reports are not counted in them.
    not_red = Report.marking != Marking.RED
    rows = session.execute(
        select(Identifier.kind, Identifier.value, Identifier.platform, report_count, agency_count)
        .join(ReportIdentifier, ReportIdentifier.identifier_id == Identifier.id)
        .join(Report, Report.id == ReportIdentifier.report_id)
        .where(Identifier.id.in_(pending_identifiers), not_red)
        .group_by(Identifier.id, Identifier.kind, Identifier.value, Identifier.platform)
        .having(
            (report_count > limits.max_reports_per_key)
            | (agency_count > limits.max_agencies_per_key)
        )
    )
    common: dict[str, tuple[str, int | None]] = {}
    for kind, value, platform, reports, agencies in rows:
        common[linking_key(kind, value, platform)] = (
            f"seen in {reports} reports of {agencies} agencies (limits: "
            f"{limits.max_reports_per_key} reports, {limits.max_agencies_per_key} agencies)",
            int(reports),
        )
    # Only a country placed by the sender (its geolocation of the address) or by
    # Veille from the address counts: the country a reporter states, or a phone
    # number's, says where a victim or a reporter is, not where the address is,
    # and one offender's reports come from every country he targets.
    country_count = func.count(func.distinct(Report.derived_country))
    spread = session.execute(
        select(Identifier.value, report_count, country_count)
        .join(ReportIdentifier, ReportIdentifier.identifier_id == Identifier.id)
        .join(Report, Report.id == ReportIdentifier.report_id)
        .where(
            Identifier.kind == IdentifierKind.IP,
            Identifier.id.in_(pending_identifiers),
            not_red,
            Report.country_reason.in_([CountryReason.PROVIDED, CountryReason.IP]),
        )
        .group_by(Identifier.id, Identifier.value)
        .having(country_count > limits.max_countries_per_ip)
    )
    for value, reports, countries in spread:
        common.setdefault(
            f"ip:{value}",
            (
                f"address seen in reports from {countries} countries (limit "
                f"{limits.max_countries_per_ip}): a VPN exit, proxy or shared gateway",
                int(reports),
            ),
        )
    for key, found in shared_addresses(
        session, pending_identifiers, limits.max_accounts_per_address
    ).items():
        common.setdefault(key, found)
    if content:
        per_cluster: dict[int, int] = defaultdict(int)
        for clusters in content.values():
            for cluster_id in clusters:
                per_cluster[cluster_id] += 1
        for cluster_id, count in per_cluster.items():
            if count > limits.max_reports_per_content:
                common[f"content:{cluster_id}"] = (
                    f"content seen in {count} reports (limit {limits.max_reports_per_content}): "
                    "known, viral or widely shared content does not identify an offender",
                    count,
                )
    return common


def _new_content_only(session: Session, content: dict[int, set[int]]) -> dict[int, set[int]]:
    """Keep the content clusters of reports whose media is all new (matched no list).

    Known content and new versions of it circulate among unrelated people;
    only content that no list knows, seen in very few reports, points to a
    common source.
    """
    signals_source = media_signal_source()
    if signals_source is None:
        return content
    kept: dict[int, set[int]] = {}
    report_ids = sorted(content)
    for start in range(0, len(report_ids), 5000):
        batch = report_ids[start : start + 5000]
        for report_id, signals in signals_source(session, batch).items():
            if signals.known == 0 and signals.new_version == 0 and not signals.viral:
                kept[report_id] = content[report_id]
    return kept


def _keys_of_chunk(
    session: Session,
    low: int,
    high: int,
    wanted: set[int],
    stop: StopList,
    content: dict[int, set[int]] | None,
) -> dict[int, list[tuple[str, str]]]:
    """Linking keys (evidence kind, key) of the reports ``wanted``, stop-listed keys left out."""
    keys: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = session.execute(
        select(ReportIdentifier.report_id, Identifier.kind, Identifier.value, Identifier.platform)
        .join(Identifier, Identifier.id == ReportIdentifier.identifier_id)
        .where(ReportIdentifier.report_id.between(low, high))
        .order_by(ReportIdentifier.report_id, Identifier.id)
    )
    reasons: dict[str, str | None] = {}
    for report_id, kind, value, platform in rows:
        if report_id not in wanted:
            continue
        key = linking_key(kind, value, platform)
        if key not in reasons:
            reasons[key] = stop.reason(key)
        if reasons[key] is None and ("identifier", key) not in keys[report_id]:
            keys[report_id].append(("identifier", key))
    if content:
        for report_id in wanted:
            for cluster_id in sorted(content.get(report_id, ())):
                key = f"content:{cluster_id}"
                if stop.reason(key) is None:
                    keys[report_id].append(("content", key))
    return keys


def _anchor_key(key: str, red_owner: int | None) -> str:
    """The anchor a report links on: the key itself, or for a red report one of its owner's own.

    Red anchors hold a digest of the key, so that the owner's prefix never
    pushes a long key past the column's length.
    """
    if red_owner is None:
        return key
    return f"red:{red_owner}:" + hashlib.sha256(key.encode()).hexdigest()


def _red_owners(session: Session, chunk: list[int]) -> dict[int, int]:
    """Owner of each red report of the chunk (other reports are absent)."""
    found: dict[int, int] = {}
    for batch in _batches(chunk):
        found.update(
            session.execute(
                select(Report.id, Report.owner_agency_id).where(
                    among(Report.id, batch), Report.marking == Marking.RED
                )
            ).all()
        )
    return found


def _named_suspects(
    session: Session, chunk: list[int], red_owner: dict[int, int]
) -> dict[int, PersonRecord]:
    """The suspect each report of the chunk names (red reports left out)."""
    found: dict[int, PersonRecord] = {}
    for batch in _batches(chunk):
        for report_id, summary in session.execute(
            select(Report.id, Report.summary).where(
                among(Report.id, batch), Report.summary.is_not(None)
            )
        ):
            if report_id in red_owner:
                continue
            person = read_suspect(summary)
            if person is not None:
                found[report_id] = person
    return found


def _link_chunk(
    session: Session,
    chunk: list[int],
    stop: StopList,
    content: dict[int, set[int]] | None,
    finder: CandidateFinder,
) -> tuple[int, int, set[int], set[int], set[int]]:
    """Link one chunk of unlinked reports.

    Returns (links, merges, roots touched, grown roots, the earlier reports that
    candidate links now reach).
    """
    wanted = set(chunk)
    keys = _keys_of_chunk(session, chunk[0], chunk[-1], wanted, stop, content)
    red_owner = _red_owners(session, chunk)
    all_keys = {
        _anchor_key(key, red_owner.get(report_id))
        for report_id, pairs in keys.items()
        for _, key in pairs
    }
    anchors: dict[str, int] = {}
    for batch in _batches(sorted(all_keys)):
        anchors.update(
            session.execute(
                select(LinkAnchor.key, LinkAnchor.report_id).where(among(LinkAnchor.key, batch))
            ).all()
        )
    persons = _named_suspects(session, chunk, red_owner)
    suspects = SuspectIndex()
    for born in sorted({p.date_of_birth for p in persons.values() if p.date_of_birth}):
        low, high = key_range(born)
        for key, first in session.execute(
            select(LinkAnchor.key, LinkAnchor.report_id).where(LinkAnchor.key.between(low, high))
        ):
            anchors[key] = first
            suspects.add(key)
    cluster_of: dict[int, int] = {}
    for batch in _batches(sorted(set(anchors.values()))):
        cluster_of.update(
            session.execute(
                select(ReportCluster.report_id, ReportCluster.cluster_id).where(
                    among(ReportCluster.report_id, batch)
                )
            ).all()
        )
    clusters = _Clusters()
    for batch in _batches(sorted(set(cluster_of.values()))):
        for cluster_id, size in session.execute(
            select(CaseCluster.id, CaseCluster.size).where(among(CaseCluster.id, batch))
        ):
            clusters.add(cluster_id, size, existing=True)
    for cluster_id in cluster_of.values():
        clusters.add(cluster_id, 1, existing=True)

    new_anchors: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    weak: list[tuple[int, int, str, float]] = []
    merges = 0
    now = utcnow()
    for report_id in chunk:
        clusters.add(report_id, 1, existing=False)
        cluster_of[report_id] = report_id
        for evidence_kind, key in keys.get(report_id, ()):
            anchor_key = _anchor_key(key, red_owner.get(report_id))
            anchor = anchors.get(anchor_key)
            if anchor is None:
                anchors[anchor_key] = report_id
                new_anchors.append({"key": anchor_key, "report_id": report_id})
                continue
            if anchor == report_id:
                continue
            evidence.append(
                {
                    "report_id": report_id,
                    "other_report_id": anchor,
                    "evidence_kind": evidence_kind,
                    "key": key,
                    "created_at": now,
                }
            )
            if clusters.union(cluster_of[anchor], report_id):
                merges += 1
        person = persons.get(report_id)
        if person is not None:
            strong: set[str] = set()
            for key, _score in suspects.matches(person):
                strong.add(key)
                named_by = anchors[key]
                if named_by == report_id:
                    continue
                evidence.append(
                    {
                        "report_id": report_id,
                        "other_report_id": named_by,
                        "evidence_kind": "person",
                        "key": key,
                        "created_at": now,
                    }
                )
                if clusters.union(cluster_of[named_by], report_id):
                    merges += 1
            weak.extend(
                (report_id, other, key, score)
                for other, key, score in finder.candidates(report_id, person, strong)
            )
            own = person_key(person)
            if own not in anchors and own not in finder.anchors:
                anchors[own] = report_id
                new_anchors.append({"key": own, "report_id": report_id})
                if person.date_of_birth is not None:
                    suspects.add(own)
            finder.add(own, anchors.get(own, finder.anchors.get(own, report_id)))

    # Existing clusters absorbed into another are relabelled, with their alerts.
    roots: set[int] = set()
    moved: dict[int, int] = {}
    for label in clusters.existing:
        root = clusters.find(label)
        roots.add(root)
        if root != label:
            moved[label] = root
    if moved:
        _relabel(session, moved)
    insert_rows(
        session, ReportCluster, [{"report_id": r, "cluster_id": clusters.find(r)} for r in chunk]
    )
    insert_rows(session, LinkAnchor, new_anchors)
    insert_rows(session, ReportLink, evidence)
    candidates = _candidate_rows(session, weak, clusters, cluster_of, now)
    insert_rows(session, CandidateLink, candidates)
    roots.update(clusters.find(r) for r in chunk)
    grown = {root for root in roots if clusters.size[root] > 1}
    _write_cluster_stats(session, roots, grown, clusters, now)
    return len(evidence), merges, roots, grown, {row["other_report_id"] for row in candidates}


def _candidate_rows(
    session: Session,
    weak: list[tuple[int, int, str, float]],
    clusters: _Clusters,
    cluster_of: dict[int, int],
    now: Any,
) -> list[dict[str, Any]]:
    """Candidate links between reports that strong evidence left in different clusters."""
    unknown = sorted({other for _, other, _, _ in weak if other not in cluster_of})
    label_of = dict(cluster_of)
    for batch in _batches(unknown):
        label_of.update(
            session.execute(
                select(ReportCluster.report_id, ReportCluster.cluster_id).where(
                    among(ReportCluster.report_id, batch)
                )
            ).all()
        )

    def root(report_id: int) -> int | None:
        label = label_of.get(report_id)
        if label is None:
            return None
        return clusters.find(label) if label in clusters.parent else label

    return [
        {
            "report_id": report_id,
            "other_report_id": other,
            "evidence_kind": "person",
            "key": key,
            "score": score,
            "created_at": now,
        }
        for report_id, other, key, score in weak
        if root(report_id) != root(other)
    ]


def _relabel(session: Session, moved: dict[int, int]) -> None:
    """Move the reports (and alerts) of absorbed clusters to their new cluster, in bulk."""
    rows = [{"old": old, "new": new} for old, new in sorted(moved.items())]
    table: Table = ReportCluster.__table__  # type: ignore[assignment]
    # A Core statement with many parameter sets runs as one executemany.
    session.connection().execute(
        update(table)
        .where(table.c.cluster_id == bindparam("old"))
        .values(cluster_id=bindparam("new")),
        rows,
    )
    for batch in _batches(sorted(moved)):
        session.execute(delete(CaseCluster).where(among(CaseCluster.id, batch)))
        with_alerts = set(
            session.scalars(
                select(DeconflictionAlert.cluster_id)
                .where(among(DeconflictionAlert.cluster_id, batch))
                .distinct()
            )
        )
        for old in sorted(with_alerts):
            _move_alerts(session, old, moved[old])


def _move_alerts(session: Session, old: int, new: int) -> None:
    other = aliased(DeconflictionAlert)
    duplicate = exists(
        select(other.id).where(
            other.cluster_id == new,
            other.agency_id == DeconflictionAlert.agency_id,
            other.other_agency_id == DeconflictionAlert.other_agency_id,
        )
    )
    session.execute(
        delete(DeconflictionAlert).where(DeconflictionAlert.cluster_id == old, duplicate)
    )
    session.execute(
        update(DeconflictionAlert)
        .where(DeconflictionAlert.cluster_id == old)
        .values(cluster_id=new)
    )


def _write_cluster_stats(
    session: Session, roots: set[int], grown: set[int], clusters: _Clusters, now: Any
) -> None:
    stats: dict[int, tuple[int, int, int]] = {}
    measured = grown | {root for root in roots if root in clusters.existing}
    for batch in _batches(sorted(measured)):
        for cluster_id, size, agencies, countries in session.execute(
            select(
                ReportCluster.cluster_id,
                func.count(ReportCluster.report_id),
                func.count(func.distinct(Report.owner_agency_id)),
                func.count(func.distinct(Report.derived_country)),
            )
            .join(Report, Report.id == ReportCluster.report_id)
            .where(among(ReportCluster.cluster_id, batch))
            .group_by(ReportCluster.cluster_id)
        ):
            stats[cluster_id] = (size, agencies, countries)
    singles = sorted(root for root in roots if root not in grown and root not in clusters.existing)
    countries_of: dict[int, str | None] = {}
    for batch in _batches(singles):
        countries_of.update(
            session.execute(
                select(Report.id, Report.derived_country).where(among(Report.id, batch))
            ).all()
        )
    existing_roots = sorted(root for root in roots if root in clusters.existing)
    created: dict[int, Any] = {}
    public: dict[int, str] = {}
    for batch in _batches(existing_roots):
        for cluster_id, created_at, public_id in session.execute(
            select(CaseCluster.id, CaseCluster.created_at, CaseCluster.public_id).where(
                among(CaseCluster.id, batch)
            )
        ):
            created[cluster_id] = created_at
            public[cluster_id] = public_id
        # Rewritten below in one bulk insert: far cheaper than one UPDATE per cluster.
        session.execute(delete(CaseCluster).where(among(CaseCluster.id, batch)))
    rows = []
    for root in sorted(roots):
        if root in stats:
            size, agencies, countries = stats[root]
        elif root in countries_of:
            size, agencies, countries = 1, 1, int(countries_of[root] is not None)
        else:
            continue
        rows.append(
            {
                "id": root,
                "public_id": public.get(root) or new_public_id(),
                "size": size,
                "agency_count": agencies,
                "country_count": countries,
                "created_at": created.get(root, now),
                "updated_at": now,
            }
        )
    insert_rows(session, CaseCluster, rows)


def reset_links(session: Session) -> None:
    """Forget every cluster, link, anchor, automatic stop entry and alert (for a rebuild)."""
    for table in (
        ReportLink,
        CandidateLink,
        LinkAnchor,
        ReportCluster,
        CaseCluster,
        DeconflictionAlert,
    ):
        session.execute(delete(table))
    session.execute(delete(StopEntry).where(StopEntry.source == "auto"))


def unlinked_report_ids(session: Session) -> list[int]:
    """Ids of the reports that have no case cluster yet, in order."""
    linked = exists(select(ReportCluster.report_id).where(ReportCluster.report_id == Report.id))
    return list(session.scalars(select(Report.id).where(~linked).order_by(Report.id)))


def link_reports(
    database: Database,
    *,
    limits: LinkLimits | None = None,
    rebuild: bool = False,
    actor: str | None = None,
    chunk_size: int = CHUNK_SIZE,
    content_source: ContentClusterSource | bool | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> LinkRunSummary:
    """Link every report that is not linked yet; ``rebuild`` starts again from nothing.

    ``content_source`` gives each report's content clusters: ``None`` (the
    default) links on identifiers only; ``True`` asks the media capability
    (if installed) and keeps the clusters of reports whose media is all new;
    a callable is used as it is. Content linking is off by default because on
    the synthetic scenario it added no recall and cost precision (see
    ``docs/linking.md``).
    Each chunk is committed on its own, so an interrupted run resumes.
    """
    limits = limits or LinkLimits()
    actor = actor or current_actor()
    started = time.perf_counter()
    summary = LinkRunSummary()
    source = content_cluster_source() if content_source is True else content_source or None
    with database.session() as session:
        if rebuild:
            reset_links(session)
        content = source(session, None) if callable(source) else None
        if content and content_source is True:
            content = _new_content_only(session, content)
        common = _common_keys(session, limits, content)
        summary.keys_stopped = add_stop_entries(session, common, actor=actor, source="auto")
        stop = load_stop_list(session)
        pending = unlinked_report_ids(session)
        finder = CandidateFinder.load(session)
    grown_roots: set[int] = set()
    statistics = PlannerStatistics(database.dialect)
    for start in range(0, len(pending), chunk_size):
        chunk = pending[start : start + chunk_size]
        with database.session() as session:
            links, merges, roots, grown, reached = _link_chunk(
                session, chunk, stop, content, finder
            )
            summary.alerts_raised += refresh_alerts(session, grown)
            statistics.advance(len(chunk), session)
        summary.reports_linked += len(chunk)
        summary.links_recorded += links
        summary.clusters_merged += merges
        # A candidate link to an earlier report may give it a reason too: re-scored.
        summary.affected_report_ids.update(chunk, reached)
        grown_roots.difference_update(roots - grown)
        grown_roots.update(grown)
        if on_progress is not None:
            on_progress(len(chunk))
    with database.session() as session:
        # Members of clusters that grew are re-scored too: they gained links.
        grown_now = _current_roots(session, grown_roots)
        for batch in _batches(sorted(grown_now)):
            summary.affected_report_ids.update(
                session.scalars(
                    select(ReportCluster.report_id).where(among(ReportCluster.cluster_id, batch))
                )
            )
        record_event(
            session,
            actor=actor,
            action="link.run",
            object_type="case_cluster",
            detail=", ".join(f"{k} {v}" for k, v in summary.as_dict().items()),
        )
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _current_roots(session: Session, roots: set[int]) -> set[int]:
    found: set[int] = set()
    for batch in _batches(sorted(roots)):
        found.update(
            session.scalars(
                select(ReportCluster.cluster_id)
                .where(among(ReportCluster.report_id, batch))
                .distinct()
            )
        )
    return found
