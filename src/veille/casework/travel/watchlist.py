"""The watch list: importing entries, which entries are live on a day, purging expired ones.

An entry is live on a day up to and including its ``valid_until``. Expired
entries take part in no match (:func:`live_entries`) and are deleted by
:func:`purge_expired` (scheduled hourly, ``travel.purge``), which writes one
audit event per entry; alerts raised earlier keep their ``watch_id``, score
and review, and lose the link to the deleted entry.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from veille.casework.travel.lines import LineProblem, LinesRefused, WatchEntryLine, parse_lines
from veille.casework.travel.models import WatchEntry
from veille.core.bulk import insert_rows
from veille.persons import PersonName, PersonRecord
from veille.store.agencies import AgencyNotFound, find_agency
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.reports import Viewer
from veille.store.types import utcnow


def today(as_of: datetime | date | None = None) -> date:
    """The UTC day ``as_of`` falls on (today when ``None``)."""
    if as_of is None:
        return datetime.now(UTC).date()
    if isinstance(as_of, datetime):
        return as_of.astimezone(UTC).date()
    return as_of


@dataclass(frozen=True)
class WatchImportSummary:
    """What an import of the watch list did."""

    imported: int
    updated: int
    unchanged: int
    expired: int
    """Of the lines read, entries whose ``valid_until`` had already passed (stored; they match nothing)."""


def _columns(line: WatchEntryLine, issuing_agency_id: int | None) -> dict[str, Any]:
    return {
        "watch_id": line.watch_id,
        "given_name": line.given_name,
        "family_name": line.family_name,
        "transliterations": [t.model_dump() for t in line.transliterations],
        "date_of_birth": line.date_of_birth,
        "nationality": line.nationality,
        "documents": list(line.documents),
        "legal_basis": line.legal_basis,
        "issuing_agency_id": issuing_agency_id,
        "issuing_country": line.issuing_country,
        "valid_until": line.valid_until,
    }


def store_watch_entries(
    session: Session,
    lines: Sequence[tuple[int, WatchEntryLine]],
    viewer: Viewer,
    *,
    as_of: date | None = None,
) -> WatchImportSummary:
    """Store or update entries in the caller's transaction (:class:`LinesRefused` names bad lines).

    An entry's issuing agency is its line's ``issuing_agency``, else the
    viewer's agency. A ``watch_id`` already stored is updated in place (a
    renewed ``valid_until``, a new transliteration).
    """
    on = today(as_of)
    counts = {"imported": 0, "updated": 0, "unchanged": 0, "expired": 0}
    agencies: dict[str, int] = {}
    problems: list[LineProblem] = []
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, line in lines:
        if line.watch_id in seen:
            problems.append(LineProblem(number, "watch_id", f"repeats line {seen[line.watch_id]}"))
            continue
        seen[line.watch_id] = number
        agency_id = viewer.agency_id
        if line.issuing_agency is not None:
            if line.issuing_agency not in agencies:
                try:
                    agencies[line.issuing_agency] = find_agency(session, line.issuing_agency).id
                except AgencyNotFound as error:
                    problems.append(LineProblem(number, "issuing_agency", str(error)))
                    continue
            agency_id = agencies[line.issuing_agency]
        rows.append(_columns(line, agency_id))
    if problems:
        raise LinesRefused(problems)
    stored: dict[str, WatchEntry] = {}
    watch_ids = [columns["watch_id"] for columns in rows]
    for start in range(0, len(watch_ids), 5_000):
        chunk = watch_ids[start : start + 5_000]
        stored.update(
            (entry.watch_id, entry)
            for entry in session.scalars(select(WatchEntry).where(WatchEntry.watch_id.in_(chunk)))
        )
    fresh: list[dict[str, Any]] = []
    created = utcnow()
    for columns in rows:
        if columns["valid_until"] < on:
            counts["expired"] += 1
        entry = stored.get(columns["watch_id"])
        if entry is None:
            fresh.append({**columns, "created_at": created, "created_by": viewer.actor})
            counts["imported"] += 1
        elif all(getattr(entry, key) == value for key, value in columns.items()):
            counts["unchanged"] += 1
        else:
            for key, value in columns.items():
                setattr(entry, key, value)
            counts["updated"] += 1
    for start in range(0, len(fresh), 5_000):
        insert_rows(session, WatchEntry, fresh[start : start + 5_000])
    summary = WatchImportSummary(**counts)
    record_event(
        session,
        actor=viewer.actor,
        agency_id=viewer.agency_id,
        action="travel.watch_list.import",
        object_type="travel_watch_list",
        detail=f"{summary.imported} imported, {summary.updated} updated, "
        f"{summary.unchanged} unchanged",
    )
    return summary


def import_watch_list(
    database: Database,
    path: Path,
    viewer: Viewer,
    *,
    fmt: str,
    as_of: date | None = None,
) -> WatchImportSummary:
    """Import or update watch-list entries from ``path``, all or nothing (:func:`store_watch_entries`)."""
    parsed = parse_lines(path, WatchEntryLine, fmt)
    with database.session() as session:
        return store_watch_entries(session, parsed, viewer, as_of=as_of)


def entry_names(entry: Any) -> tuple[PersonName, ...]:
    """The entry's name as recorded, then its transliterations."""
    return (
        PersonName(entry.given_name, entry.family_name),
        *(PersonName(t["given_name"], t["family_name"]) for t in entry.transliterations or ()),
    )


def as_person(entry: Any) -> PersonRecord:
    """The entry (a :class:`WatchEntry` or a row of :func:`live_entries`) as the person
    matcher sees it, keyed by ``watch_id``."""
    return PersonRecord(
        key=entry.watch_id,
        names=entry_names(entry),
        date_of_birth=entry.date_of_birth,
        nationality=entry.nationality,
        documents=tuple(entry.documents or ()),
    )


_MATCHED_COLUMNS = (
    WatchEntry.id,
    WatchEntry.watch_id,
    WatchEntry.given_name,
    WatchEntry.family_name,
    WatchEntry.transliterations,
    WatchEntry.date_of_birth,
    WatchEntry.nationality,
    WatchEntry.documents,
    WatchEntry.valid_until,
)


def live_entries(session: Session, as_of: date | None = None) -> Iterator[Any]:
    """Entries valid on ``as_of`` (today by default), as rows of the columns matching reads."""
    yield from session.execute(
        select(*_MATCHED_COLUMNS)
        .where(WatchEntry.valid_until >= today(as_of))
        .order_by(WatchEntry.id)
    )


def list_entries(session: Session, *, include_expired: bool = False) -> Sequence[WatchEntry]:
    """The watch list, by ``watch_id``."""
    query = select(WatchEntry).order_by(WatchEntry.watch_id)
    if not include_expired:
        query = query.where(WatchEntry.valid_until >= today())
    return session.scalars(query).all()


def purge_expired(database: Database, actor: str, as_of: date | None = None) -> list[str]:
    """Delete every entry whose ``valid_until`` has passed; one audit event each. The ``watch_id`` s purged."""
    on = today(as_of)
    with database.session() as session:
        expired = session.execute(
            select(
                WatchEntry.id,
                WatchEntry.watch_id,
                WatchEntry.valid_until,
                WatchEntry.issuing_agency_id,
            )
            .where(WatchEntry.valid_until < on)
            .order_by(WatchEntry.watch_id)
        ).all()
        if not expired:
            return []
        for row in expired:
            record_event(
                session,
                actor=actor,
                agency_id=row.issuing_agency_id,
                action="travel.watch_entry.purge",
                object_type="travel_watch_entry",
                object_id=row.watch_id,
                detail=f"valid until {row.valid_until.isoformat()}, purged on {on.isoformat()}",
            )
        ids = [row.id for row in expired]
        for start in range(0, len(ids), 5_000):
            session.execute(delete(WatchEntry).where(WatchEntry.id.in_(ids[start : start + 5_000])))
    return [row.watch_id for row in expired]
