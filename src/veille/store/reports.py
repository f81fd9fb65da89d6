"""Reading reports on behalf of an agency: list, show, share; and their one JSON shape.

Every reading function here applies :func:`report_visible_to` for the viewing
agency and writes to the audit log. :func:`report_summary` and
:func:`report_detail` give the one JSON shape of a report
(:class:`ReportSummaryOut`, :class:`ReportOut`), which the CLI
(``veille reports list/show --json``) and the REST API (``GET /api/v1/reports``,
``GET /api/v1/reports/{id}``) both print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, exists, func, insert, select
from sqlalchemy.orm import Session

from veille.store.audit import record_event
from veille.store.models import Report, ReportOffence, ReportShare
from veille.store.visibility import report_visible_to
from veille.vocab import (
    Channel,
    CountryReason,
    IdentifierKind,
    Marking,
    OffenceType,
    PlatformCategory,
    ReporterKind,
    ReportFlag,
)


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


class IdentifierOut(BaseModel):
    """A normalised identifier of a report."""

    kind: IdentifierKind
    value: str
    platform: str | None


class MediaOut(BaseModel):
    """A media item of a report, by its hashes."""

    file_name: str | None
    size_bytes: int | None
    media_type: str | None
    md5: str | None
    sha1: str | None
    sha256: str | None
    pdq: str | None
    pdq_quality: int | None


class ReportSummaryOut(BaseModel):
    """A report as listed."""

    id: int
    received_at: datetime
    channel: Channel
    derived_country: str | None
    platform_category: PlatformCategory
    offence_types: list[OffenceType]
    marking: Marking
    owner_agency: str


class ReportOut(ReportSummaryOut):
    """Every field of one report, with the state of its media."""

    external_id: str
    source: str
    reporter_kind: ReporterKind
    incident_at: datetime | None
    stated_country: str | None
    country_reason: CountryReason
    platform: str | None
    flags: list[ReportFlag]
    summary: str | None
    identifiers: list[IdentifierOut]
    media: list[MediaOut]
    media_state: str = Field(description="none, pending (hashing/matching) or matched.")


class ReportList(BaseModel):
    """One page of reports and the total that match."""

    total: int
    reports: list[ReportSummaryOut]


def _summary_fields(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "received_at": report.received_at,
        "channel": report.channel,
        "derived_country": report.derived_country,
        "platform_category": report.platform_category,
        "offence_types": [row.offence_type for row in report.offences],
        "marking": report.marking,
        "owner_agency": report.owner.name,
    }


def report_summary(report: Report) -> ReportSummaryOut:
    """A report as lists show it."""
    return ReportSummaryOut.model_validate(_summary_fields(report))


def report_detail(report: Report, media_state: str) -> ReportOut:
    """Every stored field of one report and the state of its media.

    ``media_state`` is the intake capability's word for where the report's
    media stand (``none``, ``pending`` or ``matched``), which the caller looks up.
    """
    return ReportOut.model_validate(
        {
            **_summary_fields(report),
            "external_id": report.external_id,
            "source": report.source,
            "reporter_kind": report.reporter_kind,
            "incident_at": report.incident_at,
            "stated_country": report.stated_country,
            "country_reason": report.country_reason,
            "platform": report.platform,
            "flags": [row.flag for row in report.flags],
            "summary": report.summary,
            "identifiers": [
                {"kind": i.kind, "value": i.value, "platform": i.platform or None}
                for i in report.identifiers
            ],
            "media": [
                {
                    "file_name": m.file_name,
                    "size_bytes": m.size_bytes,
                    "media_type": m.media_type,
                    "md5": m.md5,
                    "sha1": m.sha1,
                    "sha256": m.sha256,
                    "pdq": m.pdq,
                    "pdq_quality": m.pdq_quality,
                }
                for m in report.media
            ],
            "media_state": media_state,
        }
    )
