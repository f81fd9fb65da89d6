"""Content per period: how many distinct pieces of content were reported, and how many were new.

The door the analytics capability reads content through. Per week or month
and within what a reader may see: reports with classified media, media
items, distinct content clusters (unique content), clusters first seen in
that period among the reports the reader may see and not on a known-content
list (new content), and, for an installation-wide reader, the share of
reports whose media belong to a viral cluster (a cluster's viral flag draws
on every report, so an agency's view leaves it out rather than let it tell
of reports it may not see). Counted in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, func, literal_column, select
from sqlalchemy.orm import Session, aliased, join

from veille.media.models import ContentCluster, MediaClassification
from veille.store.models import Report
from veille.store.visibility import report_visible_to

_PERIOD_SQL = {
    ("w", "postgresql"): "CAST(date_trunc('week', {c} AT TIME ZONE 'UTC') AS DATE)",
    ("w", "sqlite"): "date({c}, '-6 days', 'weekday 1')",
    ("m", "postgresql"): "CAST(date_trunc('month', {c} AT TIME ZONE 'UTC') AS DATE)",
    ("m", "sqlite"): "date({c}, 'start of month')",
}


def _period(session: Session, grain: str, column: str) -> Any:
    dialect = "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"
    return literal_column(_PERIOD_SQL[(grain, dialect)].format(c=column))


def content_by_period(
    session: Session,
    grain: str,
    agency_id: int | None,
    countries: Sequence[str] = (),
    categories: Sequence[str] = (),
) -> dict[date, dict[str, Any]]:
    """Per period start: ``reports``, ``media``, ``unique_content``, ``new_content``, ``viral_share``."""
    classification = aliased(MediaClassification, name="mc")
    report = aliased(Report, name="r")
    conditions: list[Any] = [classification.cluster_id.isnot(None)]
    if agency_id is not None:
        conditions.append(report_visible_to(agency_id, report))
    if countries:
        conditions.append(classification.country.in_(list(countries)))
    if categories:
        conditions.append(report.platform_category.in_(list(categories)))
    joined = join(classification, report, report.id == classification.report_id)
    period = _period(session, grain, "mc.received_at")
    totals = (
        select(
            period.label("period"),
            func.count(func.distinct(classification.report_id)),
            func.count(),
            func.count(func.distinct(classification.cluster_id)),
        )
        .select_from(joined)
        .where(*conditions)
        .group_by(period)
    )
    found: dict[date, dict[str, Any]] = {}
    for start, reports, media, unique in session.execute(totals):
        found[_as_date(start)] = {
            "reports": int(reports),
            "media": int(media),
            "unique_content": int(unique),
            "new_content": 0,
            "viral_share": None,
        }
    # First sighting of each cluster among the reports this reader may see.
    first_seen = (
        select(
            classification.cluster_id.label("cluster_id"),
            func.min(classification.received_at).label("first_at"),
        )
        .select_from(joined)
        .where(*conditions)
        .group_by(classification.cluster_id)
        .subquery("first_seen")
    )
    first_period = _period(session, grain, "first_seen.first_at")
    new = (
        select(first_period, func.count())
        .select_from(first_seen.join(ContentCluster, ContentCluster.id == first_seen.c.cluster_id))
        .where(ContentCluster.known.is_(False))
        .group_by(first_period)
    )
    for start, count in session.execute(new):
        found.setdefault(
            _as_date(start),
            {"reports": 0, "media": 0, "unique_content": 0, "new_content": 0, "viral_share": None},
        )["new_content"] = int(count)
    if agency_id is None:
        viral = (
            select(period, func.count(func.distinct(classification.report_id)))
            .select_from(
                joined.join(
                    ContentCluster,
                    and_(
                        ContentCluster.id == classification.cluster_id,
                        ContentCluster.viral.is_(True),
                    ),
                )
            )
            .where(*conditions)
            .group_by(period)
        )
        viral_reports = {_as_date(start): int(count) for start, count in session.execute(viral)}
        for start, row in found.items():
            if row["reports"]:
                row["viral_share"] = round(viral_reports.get(start, 0) / row["reports"], 4)
    return found


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
