"""Scenario builders for media tests: agencies, reports and their media items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from veille.store.db import Database
from veille.store.models import Agency, MediaItem, Report
from veille.vocab import AgencyKind, Channel, CountryReason, Marking, PlatformCategory, ReporterKind

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def flip_hex(pdq: str, bits: int) -> str:
    """``pdq`` with its first ``bits`` bits inverted (a near-duplicate ``bits`` away)."""
    value = int(pdq, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{value:064x}"


def add_report(
    database: Database,
    number: int,
    media: list[dict[str, object]],
    source: str = "hotline-a",
    country: str = "FR",
    hours: float = 0.0,
) -> int:
    """Store one report with ``media`` items; returns its id."""
    with database.session() as session:
        agency = session.query(Agency).filter_by(name="Test hotline").one_or_none()
        if agency is None:
            agency = Agency(name="Test hotline", kind=AgencyKind.HOTLINE, country="FR")
            session.add(agency)
            session.flush()
        report = Report(
            source=source,
            external_id=f"r-{number}",
            content_sha256=f"{number:064x}",
            channel=Channel.HOTLINE_FORM,
            reporter_kind=ReporterKind.PUBLIC,
            received_at=T0 + timedelta(hours=hours),
            derived_country=country,
            country_reason=CountryReason.PROVIDED,
            platform_category=PlatformCategory.SOCIAL_MEDIA,
            marking=Marking.AMBER,
            owner_agency_id=agency.id,
        )
        session.add(report)
        session.flush()
        for index, fields in enumerate(media):
            session.add(MediaItem(report_id=report.id, file_name=f"{number}-{index}.jpg", **fields))
        session.flush()
        return report.id
