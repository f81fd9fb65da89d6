"""Reading case clusters on behalf of an agency: list, show, facts for triage.

An agency sees a cluster when it may see at least one of its reports; inside
it, only the reports it may see are listed and counted (with the evidence
between them). Reports it may not see are not counted, not described and
not linked to; the agencies holding them are named only through
deconfliction alerts, which respect markings. Clusters are known by their
public id (``cc-…``): the internal id is a report id and stays inside.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from veille.linking.models import (
    PUBLIC_ID_PREFIX,
    CandidateLink,
    CaseCluster,
    ReportCluster,
    ReportLink,
)
from veille.store.audit import record_event
from veille.store.models import Report
from veille.store.reports import Viewer
from veille.store.sql import among
from veille.store.visibility import evidence_readable_by_readers_of

# A public cluster id (``cc-`` and 16 hex digits); internal ids are report ids and stay inside.
CLUSTER_ID_PATTERN = rf"^{PUBLIC_ID_PREFIX}[0-9a-f]{{16}}$"
PUBLIC_ID_PATTERN = re.compile(CLUSTER_ID_PATTERN)
_IN_BATCH = 900


class ClusterNotFound(LookupError):
    """No such cluster, or none of its reports is visible to the viewer."""


@dataclass(frozen=True)
class ClusterFacts:
    """What triage may know of a report's case cluster: only what its readers may see."""

    cluster_id: str
    size: int
    agency_count: int
    country_count: int


@dataclass(frozen=True)
class ClusterEvidence:
    """For each report: its cluster facts and the other reports it may draw on."""

    facts: dict[int, ClusterFacts]
    others: dict[int, set[int]]


def cluster_evidence(session: Session, report_ids: Collection[int]) -> ClusterEvidence:
    """Each linked report's cluster as every reader of that report may see it.

    A score is stored on a report and read by everyone who may read that
    report, so the other members it counts are those all of them may see
    (:func:`~veille.store.visibility.evidence_readable_by_readers_of`), chosen
    in the query.
    """
    scored, other = aliased(Report), aliased(Report)
    own_row, other_row = aliased(ReportCluster), aliased(ReportCluster)
    facts: dict[int, ClusterFacts] = {}
    others: dict[int, set[int]] = defaultdict(set)
    ids = sorted(set(report_ids))
    for start in range(0, len(ids), _IN_BATCH):
        batch = ids[start : start + _IN_BATCH]
        own: dict[int, tuple[str, int, str | None]] = {}
        for report_id, public_id, owner, country in session.execute(
            select(
                own_row.report_id,
                CaseCluster.public_id,
                scored.owner_agency_id,
                scored.derived_country,
            )
            .join(CaseCluster, CaseCluster.id == own_row.cluster_id)
            .join(scored, scored.id == own_row.report_id)
            .where(among(own_row.report_id, batch))
        ):
            own[report_id] = (public_id, owner, country)
        owners: dict[int, set[int]] = defaultdict(set)
        countries: dict[int, set[str]] = defaultdict(set)
        for report_id, other_id, owner, country in session.execute(
            select(own_row.report_id, other.id, other.owner_agency_id, other.derived_country)
            .join(other_row, other_row.cluster_id == own_row.cluster_id)
            .join(scored, scored.id == own_row.report_id)
            .join(other, other.id == other_row.report_id)
            .where(
                among(own_row.report_id, batch),
                other.id != scored.id,
                evidence_readable_by_readers_of(other, scored),
            )
        ):
            others[report_id].add(other_id)
            owners[report_id].add(owner)
            if country is not None:
                countries[report_id].add(country)
        for report_id, (public_id, owner, country) in own.items():
            owners[report_id].add(owner)
            if country is not None:
                countries[report_id].add(country)
            facts[report_id] = ClusterFacts(
                public_id,
                1 + len(others.get(report_id, ())),
                len(owners[report_id]),
                len(countries[report_id]),
            )
    return ClusterEvidence(facts, dict(others))


def cluster_facts(session: Session, report_ids: Collection[int]) -> dict[int, ClusterFacts]:
    """The case cluster facts of each linked report, as every reader of that report may see them."""
    return cluster_evidence(session, report_ids).facts


def cluster_as_seen_by(session: Session, viewer: Viewer, report_id: int) -> ClusterFacts | None:
    """A report's case cluster counted over the reports ``viewer`` may see."""
    row = session.execute(
        select(ReportCluster.cluster_id, CaseCluster.public_id)
        .join(CaseCluster, CaseCluster.id == ReportCluster.cluster_id)
        .where(ReportCluster.report_id == report_id)
    ).first()
    if row is None:
        return None
    statement = (
        select(
            func.count(Report.id),
            func.count(func.distinct(Report.owner_agency_id)),
            func.count(func.distinct(Report.derived_country)),
        )
        .join(ReportCluster, ReportCluster.report_id == Report.id)
        .where(ReportCluster.cluster_id == row.cluster_id)
    )
    condition = viewer.condition()
    if condition is not None:
        statement = statement.where(condition)
    size, agencies, countries = session.execute(statement).one()
    return ClusterFacts(row.public_id, size, agencies, countries)


def internal_cluster_id(session: Session, public_id: str) -> int | None:
    """The internal id of the cluster known as ``public_id`` (``None`` when there is none)."""
    if not PUBLIC_ID_PATTERN.match(public_id):
        return None
    return session.scalar(select(CaseCluster.id).where(CaseCluster.public_id == public_id))


def public_cluster_ids(session: Session, cluster_ids: Collection[int]) -> dict[int, str]:
    """Public id of each existing cluster among ``cluster_ids`` (internal ids)."""
    found: dict[int, str] = {}
    ids = sorted(set(cluster_ids))
    for start in range(0, len(ids), _IN_BATCH):
        found.update(
            session.execute(
                select(CaseCluster.id, CaseCluster.public_id).where(
                    among(CaseCluster.id, ids[start : start + _IN_BATCH])
                )
            ).all()
        )
    return found


def cluster_of_report(session: Session, report_id: int) -> int | None:
    """The internal case cluster id of a report, if it has been linked."""
    return session.scalar(
        select(ReportCluster.cluster_id).where(ReportCluster.report_id == report_id)
    )


def list_clusters(
    session: Session, viewer: Viewer, *, min_size: int = 2, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Clusters with at least ``min_size`` reports the viewer may see, largest first.

    Sizes, agencies and countries count the reports the viewer may see only.
    """
    visible = func.count(Report.id)
    statement = (
        select(
            CaseCluster.id,
            CaseCluster.public_id,
            CaseCluster.updated_at,
            visible.label("size"),
            func.count(func.distinct(Report.owner_agency_id)).label("agencies"),
            func.count(func.distinct(Report.derived_country)).label("countries"),
        )
        .join(ReportCluster, ReportCluster.cluster_id == CaseCluster.id)
        .join(Report, Report.id == ReportCluster.report_id)
        .group_by(CaseCluster.id, CaseCluster.public_id, CaseCluster.updated_at)
        .having(visible >= min_size)
    )
    condition = viewer.condition()
    if condition is not None:
        statement = statement.where(condition)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.execute(
        statement.order_by(visible.desc(), CaseCluster.public_id).limit(limit).offset(offset)
    ).all()
    record_event(
        session,
        actor=viewer.actor,
        agency_id=viewer.agency_id,
        action="cluster.list",
        object_type="case_cluster",
        detail=f"{len(rows)} of {total} shown",
    )
    return [
        {
            "cluster_id": row.public_id,
            "size": row.size,
            "agencies": row.agencies,
            "countries": row.countries,
            "updated_at": row.updated_at,
        }
        for row in rows
    ], total


def show_cluster(session: Session, viewer: Viewer, public_id: str) -> dict[str, Any]:
    """One cluster: the reports the viewer may see and the evidence between them."""
    cluster_id = internal_cluster_id(session, public_id)
    statement = (
        select(Report)
        .join(ReportCluster, ReportCluster.report_id == Report.id)
        .where(ReportCluster.cluster_id == cluster_id)
        .order_by(Report.received_at, Report.id)
    )
    condition = viewer.condition()
    if condition is not None:
        statement = statement.where(condition)
    reports = list(session.scalars(statement)) if cluster_id is not None else []
    record_event(
        session,
        actor=viewer.actor,
        agency_id=viewer.agency_id,
        action="cluster.read",
        object_type="case_cluster",
        object_id=public_id[:64],
        success=bool(reports),
    )
    if not reports:
        raise ClusterNotFound(
            f"case cluster {public_id[:40]} does not exist or is not visible to you"
        )
    shown = [report.id for report in reports]
    # Only links with both ends visible: a link to a hidden report would
    # reveal that the hidden report exists and carries the key.
    links = session.scalars(
        select(ReportLink)
        .where(among(ReportLink.report_id, shown), among(ReportLink.other_report_id, shown))
        .order_by(ReportLink.id)
    ).all()
    return {
        "cluster_id": public_id,
        "size": len(reports),
        "agencies": len({report.owner_agency_id for report in reports}),
        "countries": len({r.derived_country for r in reports if r.derived_country is not None}),
        "reports": [
            {
                "id": report.id,
                "received_at": report.received_at,
                "country": report.derived_country,
                "platform_category": report.platform_category,
                "owner": report.owner.name,
                "marking": report.marking,
            }
            for report in reports
        ],
        "links": [
            {
                "report_id": link.report_id,
                "other_report_id": link.other_report_id,
                "evidence": link.evidence_kind,
                "key": link.key,
            }
            for link in links
        ],
        "candidates": _visible_candidates(session, viewer, shown),
    }


def _visible_candidates(session: Session, viewer: Viewer, shown: list[int]) -> list[dict[str, Any]]:
    """Candidate links from the shown reports to reports the viewer may see (other clusters)."""
    rows: list[CandidateLink] = []
    for start in range(0, len(shown), _IN_BATCH):
        batch = shown[start : start + _IN_BATCH]
        rows.extend(
            session.scalars(
                select(CandidateLink).where(
                    among(CandidateLink.report_id, batch)
                    | among(CandidateLink.other_report_id, batch)
                )
            )
        )
    ends = sorted({end for row in rows for end in (row.report_id, row.other_report_id)})
    visible: set[int] = set()
    for start in range(0, len(ends), _IN_BATCH):
        statement = select(Report.id).where(among(Report.id, ends[start : start + _IN_BATCH]))
        condition = viewer.condition()
        if condition is not None:
            statement = statement.where(condition)
        visible.update(session.scalars(statement))
    return [
        {
            "report_id": row.report_id,
            "other_report_id": row.other_report_id,
            "evidence": row.evidence_kind,
            "key": row.key,
            "score": row.score,
        }
        for row in sorted(rows, key=lambda row: row.id)
        if row.report_id in visible and row.other_report_id in visible
    ]


def cluster_report_ids(session: Session, cluster_id: int) -> list[int]:
    """Every report of a cluster (no visibility filter: for internal use such as bulk referral)."""
    return list(
        session.scalars(
            select(ReportCluster.report_id)
            .where(ReportCluster.cluster_id == cluster_id)
            .order_by(ReportCluster.report_id)
        )
    )


def owned_cluster_members(session: Session, public_id: str, agency_id: int | None) -> list[int]:
    """Reports of a cluster that ``agency_id`` owns (every report for an administrator)."""
    cluster_id = internal_cluster_id(session, public_id)
    if cluster_id is None:
        return []
    statement = (
        select(ReportCluster.report_id)
        .where(ReportCluster.cluster_id == cluster_id)
        .order_by(ReportCluster.report_id)
    )
    if agency_id is not None:
        statement = statement.join(Report, Report.id == ReportCluster.report_id).where(
            Report.owner_agency_id == agency_id
        )
    return list(session.scalars(statement))


def is_linked(session: Session, report_id: int) -> bool:
    """Whether a report has been through linking."""
    return bool(session.scalar(select(exists().where(ReportCluster.report_id == report_id))))
