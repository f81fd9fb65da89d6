"""Reading case clusters on behalf of an agency: list, show, facts for triage.

An agency sees a cluster when it may see at least one of its reports; inside
it, only the reports it may see are listed (with the evidence between them).
The others are counted, never described, and the agencies holding them are
named only through deconfliction alerts, which respect markings.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from veille.linking.models import CaseCluster, ReportCluster, ReportLink
from veille.store.audit import record_event
from veille.store.models import Report
from veille.store.reports import Viewer


class ClusterNotFound(LookupError):
    """No such cluster, or none of its reports is visible to the viewer."""


@dataclass(frozen=True)
class ClusterFacts:
    """What triage needs to know of a report's case cluster."""

    cluster_id: int
    size: int
    agency_count: int
    country_count: int


def cluster_facts(session: Session, report_ids: Collection[int]) -> dict[int, ClusterFacts]:
    """The case cluster facts of each linked report among ``report_ids``."""
    found: dict[int, ClusterFacts] = {}
    ids = sorted(report_ids)
    for start in range(0, len(ids), 900):
        rows = session.execute(
            select(
                ReportCluster.report_id,
                CaseCluster.id,
                CaseCluster.size,
                CaseCluster.agency_count,
                CaseCluster.country_count,
            )
            .join(CaseCluster, CaseCluster.id == ReportCluster.cluster_id)
            .where(ReportCluster.report_id.in_(ids[start : start + 900]))
        )
        for report_id, cluster_id, size, agencies, countries in rows:
            found[report_id] = ClusterFacts(cluster_id, size, agencies, countries)
    return found


def cluster_of_report(session: Session, report_id: int) -> int | None:
    """The case cluster id of a report, if it has been linked."""
    return session.scalar(
        select(ReportCluster.cluster_id).where(ReportCluster.report_id == report_id)
    )


def _visible_members(viewer: Viewer) -> Any:
    statement = select(ReportCluster.report_id).join(Report, Report.id == ReportCluster.report_id)
    condition = viewer.condition()
    return statement if condition is None else statement.where(condition)


def list_clusters(
    session: Session, viewer: Viewer, *, min_size: int = 2, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Clusters of at least ``min_size`` reports with a report the viewer may see, largest first."""
    visible = func.count(ReportCluster.report_id)
    statement = (
        select(
            CaseCluster.id,
            CaseCluster.size,
            CaseCluster.agency_count,
            CaseCluster.country_count,
            CaseCluster.updated_at,
            visible.label("visible"),
        )
        .join(ReportCluster, ReportCluster.cluster_id == CaseCluster.id)
        .join(Report, Report.id == ReportCluster.report_id)
        .where(CaseCluster.size >= min_size)
        .group_by(
            CaseCluster.id,
            CaseCluster.size,
            CaseCluster.agency_count,
            CaseCluster.country_count,
            CaseCluster.updated_at,
        )
    )
    condition = viewer.condition()
    if condition is not None:
        statement = statement.where(condition)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.execute(
        statement.order_by(CaseCluster.size.desc(), CaseCluster.id).limit(limit).offset(offset)
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
            "cluster_id": row.id,
            "size": row.size,
            "visible_reports": row.visible,
            "agencies": row.agency_count,
            "countries": row.country_count,
            "updated_at": row.updated_at,
        }
        for row in rows
    ], total


def show_cluster(session: Session, viewer: Viewer, cluster_id: int) -> dict[str, Any]:
    """One cluster: its visible reports, the evidence linking them, and what is hidden."""
    cluster = session.get(CaseCluster, cluster_id)
    statement = (
        select(Report)
        .join(ReportCluster, ReportCluster.report_id == Report.id)
        .where(ReportCluster.cluster_id == cluster_id)
        .order_by(Report.received_at, Report.id)
    )
    condition = viewer.condition()
    if condition is not None:
        statement = statement.where(condition)
    reports = list(session.scalars(statement)) if cluster is not None else []
    record_event(
        session,
        actor=viewer.actor,
        agency_id=viewer.agency_id,
        action="cluster.read",
        object_type="case_cluster",
        object_id=cluster_id,
        success=bool(reports),
    )
    if cluster is None or not reports:
        raise ClusterNotFound(f"case cluster {cluster_id} does not exist or is not visible to you")
    shown = {report.id for report in reports}
    # A link is shown when one of its ends is visible; the key is on that
    # visible report, so showing it reveals nothing; the hidden end stays anonymous.
    links = session.scalars(
        select(ReportLink)
        .where(or_(ReportLink.report_id.in_(shown), ReportLink.other_report_id.in_(shown)))
        .order_by(ReportLink.id)
    ).all()
    return {
        "cluster_id": cluster.id,
        "size": cluster.size,
        "agencies": cluster.agency_count,
        "countries": cluster.country_count,
        "hidden_reports": cluster.size - len(reports),
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
                "report_id": link.report_id if link.report_id in shown else None,
                "other_report_id": link.other_report_id if link.other_report_id in shown else None,
                "evidence": link.evidence_kind,
                "key": link.key,
            }
            for link in links
        ],
    }


def cluster_report_ids(session: Session, cluster_id: int) -> list[int]:
    """Every report of a cluster (no visibility filter: for internal use such as bulk referral)."""
    return list(
        session.scalars(
            select(ReportCluster.report_id)
            .where(ReportCluster.cluster_id == cluster_id)
            .order_by(ReportCluster.report_id)
        )
    )


def is_linked(session: Session, report_id: int) -> bool:
    """Whether a report has been through linking."""
    return bool(session.scalar(select(exists().where(ReportCluster.report_id == report_id))))
