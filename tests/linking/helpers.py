"""Scenarios for linking and triage tests: agencies and small report sets, synthetic only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.factories import write_jsonl
from veille.intake.importer import import_reports
from veille.store.agencies import AgencySpec, ensure_agencies
from veille.store.db import Database
from veille.store.models import Agency, Report
from veille.vocab import AgencyKind

AGENCIES = (
    AgencySpec("Police FR", AgencyKind.POLICE, "FR"),
    AgencySpec("Hotline FR", AgencyKind.HOTLINE, "FR"),
    AgencySpec("Police DE", AgencyKind.POLICE, "DE"),
    AgencySpec("Coordination", AgencyKind.INTELLIGENCE, "FR"),
)


def make_world(database: Database) -> dict[str, int]:
    """The four agencies of the tests; returns their ids by name."""
    with database.session() as session:
        ensure_agencies(session, AGENCIES)
        return {
            name: agency_id for agency_id, name in session.execute(select(Agency.id, Agency.name))
        }


def record(
    external_id: str,
    identifiers: list[dict[str, str]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A minimal valid report carrying exactly ``identifiers``."""
    line: dict[str, Any] = {
        "external_id": external_id,
        "source": "linking-test",
        "reporter_kind": "esp",
        "received_at": "2020-04-10T10:00:00Z",
        "platform_category": "social_media",
        "offence_types": ["csam_distribution"],
        "owner_agency": "Police FR",
        "stated_country": "FR",
        "marking": "amber",
        "identifiers": identifiers or [],
    }
    line.update(overrides)
    return line


def email(value: str) -> dict[str, str]:
    """An e-mail identifier."""
    return {"kind": "email", "value": value}


def ip(value: str) -> dict[str, str]:
    """An IP identifier."""
    return {"kind": "ip", "value": value}


def import_records(
    database: Database, folder: Path, records: list[dict[str, Any]]
) -> dict[str, int]:
    """Import ``records``; returns report ids by external id."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_jsonl(folder / f"batch-{len(list(folder.iterdir()))}.jsonl", records)
    summary = import_reports(database, path)
    assert summary.written, summary.errors[:3]
    with database.session() as session:
        return {
            external_id: report_id
            for report_id, external_id in session.execute(select(Report.id, Report.external_id))
        }
