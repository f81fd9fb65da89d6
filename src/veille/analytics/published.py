"""Counts that others publish, kept apart from Veille's own and shown beside them.

A clearinghouse's yearly reports per country or a hotline's annual figures
are imported from a CSV file with the columns ``source, country,
period_start, period_end, measure, count`` (dates inclusive). They are never
added to Veille's series: ``veille trends published`` lists each beside the
number of reports Veille holds for the same country and days, and their
ratio, so that a reader sees where the two sources agree and where one
misses what the other sees.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from veille.analytics.models import PublishedCount
from veille.store.db import Database
from veille.store.models import Report

COLUMNS = ("source", "country", "period_start", "period_end", "measure", "count")
MAX_BYTES = 10 * 1024 * 1024
MAX_ERRORS_SHOWN = 20


class PublishedImportError(ValueError):
    """A file with bad rows: nothing of it was written; the message names row and column."""


@dataclass
class PublishedImportSummary:
    rows: int = 0
    imported: int = 0
    updated: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "imported": self.imported, "updated": self.updated}


def _row(number: int, raw: dict[str, str | None]) -> tuple[dict[str, Any] | None, list[str]]:
    where = f"row {number}"
    errors: list[str] = []
    row: dict[str, Any] = {}
    for name in ("source", "measure"):
        value = (raw.get(name) or "").strip()
        if not value or len(value) > (200 if name == "source" else 100):
            errors.append(
                f"{where}: {name}: required text (at most {200 if name == 'source' else 100} characters)"
            )
        row[name] = value
    country = (raw.get("country") or "").strip().upper()
    if len(country) != 2 or not country.isalpha() or not country.isascii():
        errors.append(f"{where}: country: {country!r} is not a two-letter country code")
    row["country"] = country
    for name in ("period_start", "period_end"):
        try:
            row[name] = date.fromisoformat((raw.get(name) or "").strip())
        except ValueError:
            errors.append(f"{where}: {name}: {raw.get(name)!r} is not a date (YYYY-MM-DD)")
    if not errors and row["period_end"] < row["period_start"]:
        errors.append(f"{where}: period_end: before period_start")
    count_text = (raw.get("count") or "").strip()
    if not count_text.isdigit() or len(count_text) > 12:
        errors.append(f"{where}: count: {count_text!r} is not a whole number")
    else:
        row["count"] = int(count_text)
    return (None if errors else row), errors


def import_published(database: Database, content: bytes) -> PublishedImportSummary:
    """Import published counts (CSV, UTF-8); all rows or none; a row already there is updated."""
    if len(content) > MAX_BYTES:
        raise PublishedImportError(f"file: larger than {MAX_BYTES} bytes")
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PublishedImportError(f"file: not UTF-8 text (byte {error.start})") from None
    reader = csv.DictReader(io.StringIO(decoded))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise PublishedImportError(
            f"header: missing column {', '.join(missing)} (expected {', '.join(COLUMNS)})"
        )
    rows, errors = [], []
    summary = PublishedImportSummary()
    for number, raw in enumerate(reader, start=2):
        summary.rows += 1
        row, problems = _row(number, raw)
        errors.extend(problems)
        if row is not None:
            rows.append(row)
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f"\n… and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise PublishedImportError("\n".join(shown) + more)
    with database.session() as session:
        for row in rows:
            found = session.scalar(
                select(PublishedCount).where(
                    PublishedCount.source == row["source"],
                    PublishedCount.country == row["country"],
                    PublishedCount.period_start == row["period_start"],
                    PublishedCount.period_end == row["period_end"],
                    PublishedCount.measure == row["measure"],
                )
            )
            if found is None:
                session.add(PublishedCount(**row))
                summary.imported += 1
            elif found.count != row["count"]:
                found.count = row["count"]
                summary.updated += 1
    return summary


def _own_count(
    session: Session, country: str, start: date, end: date, agency_id: int | None
) -> int:
    from veille.store.visibility import report_visible_to

    conditions = [
        func.coalesce(Report.derived_country, Report.stated_country) == country,
        Report.received_at >= datetime.combine(start, time(), UTC),
        Report.received_at < datetime.combine(end + timedelta(days=1), time(), UTC),
    ]
    if agency_id is not None:
        conditions.append(report_visible_to(agency_id))
    return int(session.scalar(select(func.count()).select_from(Report).where(*conditions)) or 0)


def published_beside_own(
    session: Session,
    agency_id: int | None,
    source: str | None = None,
    measure: str | None = None,
    countries: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Each published count beside the reports Veille holds for that country and those days."""
    query = select(PublishedCount).order_by(
        PublishedCount.source,
        PublishedCount.measure,
        PublishedCount.country,
        PublishedCount.period_start,
    )
    if source:
        query = query.where(PublishedCount.source == source)
    if measure:
        query = query.where(PublishedCount.measure == measure)
    if countries:
        query = query.where(PublishedCount.country.in_(countries))
    rows = []
    for published in session.scalars(query.limit(5000)):
        own = _own_count(
            session, published.country, published.period_start, published.period_end, agency_id
        )
        rows.append(
            {
                "source": published.source,
                "measure": published.measure,
                "country": published.country,
                "period_start": published.period_start.isoformat(),
                "period_end": published.period_end.isoformat(),
                "published": published.count,
                "veille_reports": own,
                "ratio": round(own / published.count, 3) if published.count else None,
            }
        )
    return rows
