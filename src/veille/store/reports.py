"""Reading reports on behalf of an agency: list, show, share.

Every function here applies :func:`report_visible_to` for the viewing agency
and writes to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, insert, select
from sqlalchemy.orm import Session

from veille.store.audit import record_event
from veille.store.models import Report, ReportOffence, ReportShare
from veille.store.visibility import report_visible_to
from veille.vocab import Marking, OffenceType, PlatformCategory


class ReportNotFound(LookupError):
    """No such report, or not one the viewer may see (the two are not told apart)."""


@dataclass(frozen=True)
class Viewer:
    """Who reads: a person acting for an agency, or an administrator of the installation."""

    actor: str
    agency_id: int | None

    @classmethod
    def administrator(cls, actor: str) -> Viewer:
        """A viewer that sees every report (installation operators only)."""
        return cls(actor=actor, agency_id=None)

    def condition(self) -> ColumnElement[bool] | None:
        """The visibility condition, or ``None`` for an administrator."""
        return None if self.agency_id is None else report_visible_to(self.agency_id)


@dataclass(frozen=True)
class ReportFilter:
    """Search criteria for :func:`list_reports`; empty fields do not filter."""

    countries: Sequence[str] = field(default_factory=tuple)
    categories: Sequence[PlatformCategory] = field(default_factory=tuple)
    offences: Sequence[OffenceType] = field(default_factory=tuple)
    received_from: datetime | None = None
    received_before: datetime | None = None
    owner_agency_id: int | None = None


def _apply(statement: Select[Any], criteria: ReportFilter) -> Select[Any]:
    if criteria.countries:
        statement = statement.where(Report.derived_country.in_(list(criteria.countries)))
    if criteria.categories:
        statement = statement.where(Report.platform_category.in_(list(criteria.categories)))
    if criteria.offences:
        statement = statement.where(
            exists(
                select(ReportOffence.report_id).where(
                    ReportOffence.report_id == Report.id,
                    ReportOffence.offence_type.in_(list(criteria.offences)),
                )
            )
        )
    if criteria.received_from is not None:
        statement = statement.where(Report.received_at >= criteria.received_from)
    if criteria.received_before is not None:
        statement = statement.where(Report.received_at < criteria.received_before)
    if criteria.owner_agency_id is not None:
        statement = statement.where(Report.owner_agency_id == criteria.owner_agency_id)
    return statement


def visible_reports(viewer: Viewer) -> Select[Any]:
    """A SELECT of the reports ``viewer`` may see, for callers to refine."""
    statement = select(Report)
    condition = viewer.condition()
    return statement if condition is None else statement.where(condition)


def list_reports(
    session: Session,
    viewer: Viewer,
    criteria: ReportFilter | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Report], int]:
    """The reports ``viewer`` may see that meet ``criteria``, newest first, and their total."""
    criteria = criteria or ReportFilter()
    statement = _apply(visible_reports(viewer), criteria)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows: Sequence[Report] = session.scalars(
        statement.order_by(Report.received_at.desc(), Report.id.desc()).limit(limit).offset(offset)
    ).all()
    record_event(
        session,
        actor=viewer.actor,
        agency_id=viewer.agency_id,
        action="report.list",
        object_type="report",
        detail=f"{len(rows)} of {total} shown",
    )
    return rows, total


def get_report(session: Session, viewer: Viewer, report_id: int) -> Report:
    """One report, if ``viewer`` may see it; every attempt is audited."""
    statement = visible_reports(viewer).where(Report.id == report_id)
    report: Report | None = session.scalar(statement)
    record_event(
        session,
        actor=viewer.actor,
        agency_id=viewer.agency_id,
        action="report.read",
        object_type="report",
        object_id=report_id,
        success=report is not None,
    )
    if report is None:
        raise ReportNotFound(f"report {report_id} does not exist or is not visible to you")
    return report


def share_report(session: Session, viewer: Viewer, report_id: int, agency_id: int) -> None:
    """Share a report with another agency; only its owner may, and never a ``red`` one."""
    report = get_report(session, viewer, report_id)
    if viewer.agency_id is not None and report.owner_agency_id != viewer.agency_id:
        raise PermissionError(f"report {report_id}: only its owning agency may share it")
    if report.marking == Marking.RED:
        raise PermissionError(f"report {report_id} is TLP:RED and cannot be shared")
    already = session.get(ReportShare, (report_id, agency_id))
    if already is None:
        session.execute(insert(ReportShare).values(report_id=report_id, agency_id=agency_id))
    record_event(
        session,
        actor=viewer.actor,
        agency_id=viewer.agency_id,
        action="report.share",
        object_type="report",
        object_id=report_id,
        detail=f"shared with agency {agency_id}",
    )
