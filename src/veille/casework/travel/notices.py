"""Travel notices: importing them, and matching them against the live watch list into alerts.

Matching builds one :class:`~veille.persons.PersonIndex` of the entries live
on the day (``as_of``, today by default) and runs each notice through it. A
match counts when it reaches the threshold and the entry is still valid on
the day of departure; it becomes an alert to the destination country's
agency (its police unit first). Notices are matched once (``matched_at``);
``rematch`` runs them all again, which adds alerts for new entries and never
duplicates one (a notice has at most one alert per ``watch_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from veille.casework.travel.lines import LineProblem, LinesRefused, NoticeLine, parse_lines
from veille.casework.travel.models import AlertState, TravelAlert, TravelNotice
from veille.casework.travel.watchlist import as_person, live_entries, today
from veille.core.bulk import insert_rows
from veille.persons import DEFAULT_THRESHOLD, PersonIndex, PersonName, PersonRecord
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.models import Agency
from veille.store.reports import Viewer
from veille.store.types import utcnow
from veille.vocab import AgencyKind

BATCH = 5_000


@dataclass(frozen=True)
class NoticeImportSummary:
    """What an import of travel notices did."""

    imported: int
    unchanged: int


def _notice_columns(line: NoticeLine, source: str) -> dict[str, Any]:
    return {
        "notice_id": line.notice_id,
        "source": source,
        "given_name": line.given_name,
        "family_name": line.family_name,
        "date_of_birth": line.date_of_birth,
        "nationality": line.nationality,
        "document_number": line.document_number,
        "departure_country": line.departure_country,
        "destination_country": line.destination_country,
        "departure_at": line.departure_at,
    }


def store_notices(
    session: Session, lines: list[tuple[int, NoticeLine]], source: str
) -> NoticeImportSummary:
    """Store validated notices in the caller's transaction.

    A ``notice_id`` already stored with the same content is counted
    unchanged; with other content, or twice in ``lines``, it is refused
    (:class:`LinesRefused`) and the caller's transaction must roll back.
    """
    problems: list[LineProblem] = []
    fresh: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    unchanged = 0
    for start in range(0, len(lines), BATCH):
        chunk = lines[start : start + BATCH]
        stored = {
            notice.notice_id: notice
            for notice in session.scalars(
                select(TravelNotice).where(
                    TravelNotice.notice_id.in_([line.notice_id for _, line in chunk])
                )
            )
        }
        for number, line in chunk:
            if line.notice_id in seen:
                problems.append(
                    LineProblem(number, "notice_id", f"repeats line {seen[line.notice_id]}")
                )
                continue
            seen[line.notice_id] = number
            columns = _notice_columns(line, source)
            existing = stored.get(line.notice_id)
            if existing is None:
                fresh.append(columns)
            elif all(getattr(existing, k) == v for k, v in columns.items() if k != "source"):
                unchanged += 1
            else:
                problems.append(
                    LineProblem(number, "notice_id", "already stored with other content")
                )
    if problems:
        raise LinesRefused(problems)
    received = utcnow()
    for start in range(0, len(fresh), BATCH):
        insert_rows(
            session,
            TravelNotice,
            [{**row, "received_at": received} for row in fresh[start : start + BATCH]],
        )
    return NoticeImportSummary(imported=len(fresh), unchanged=unchanged)


def import_notices(
    database: Database, path: Path, viewer: Viewer, *, fmt: str, source: str | None = None
) -> NoticeImportSummary:
    """Import travel notices from ``path``, all or nothing (:class:`LinesRefused` names each bad line)."""
    parsed = parse_lines(path, NoticeLine, fmt)
    with database.session() as session:
        summary = store_notices(session, parsed, source or f"import:{path.name}")
        record_event(
            session,
            actor=viewer.actor,
            agency_id=viewer.agency_id,
            action="travel.notices.import",
            object_type="travel_notice",
            detail=f"{path.name}: {summary.imported} imported, {summary.unchanged} unchanged",
        )
    return summary


@dataclass(frozen=True)
class MatchSummary:
    """What a matching run did."""

    notices: int
    alerts: int
    watch_entries: int
    """Live entries the notices were matched against."""


def destination_agencies(session: Session) -> dict[str, int]:
    """Each country's agency that receives travel alerts: its police unit first, else its first agency."""
    found: dict[str, int] = {}
    rank = {AgencyKind.POLICE: 0, AgencyKind.INTELLIGENCE: 1, AgencyKind.HOTLINE: 2}
    agencies = sorted(
        session.execute(select(Agency.id, Agency.country, Agency.kind)).all(),
        key=lambda row: (rank.get(row.kind, 9), row.id),
    )
    for row in agencies:
        found.setdefault(row.country, row.id)
    return found


_NOTICE_COLUMNS = (
    TravelNotice.id,
    TravelNotice.notice_id,
    TravelNotice.given_name,
    TravelNotice.family_name,
    TravelNotice.date_of_birth,
    TravelNotice.nationality,
    TravelNotice.document_number,
    TravelNotice.destination_country,
    TravelNotice.departure_at,
)


def notice_person(notice: Any) -> PersonRecord:
    """A notice's traveller (a :class:`TravelNotice`, a row of its columns or a
    :class:`NoticeLine`) as the person matcher sees it."""
    return PersonRecord(
        key=str(notice.notice_id),
        names=(PersonName(notice.given_name, notice.family_name),),
        date_of_birth=notice.date_of_birth,
        nationality=notice.nationality,
        documents=(notice.document_number,) if notice.document_number else (),
    )


def match_notices(
    database: Database,
    viewer: Viewer,
    *,
    rematch: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
    as_of: date | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> MatchSummary:
    """Match notices not matched yet (every notice with ``rematch``) against the live watch list."""
    on = today(as_of)
    with database.session() as session:
        entries = {entry.watch_id: entry for entry in live_entries(session, on)}
        agencies = destination_agencies(session)
    index = PersonIndex(as_person(entry) for entry in entries.values())
    notices = alerts = 0
    last_id = 0
    while True:
        with database.session() as session:
            # Rows of the columns matching reads: ORM objects would cost more than the match.
            query = select(*_NOTICE_COLUMNS).where(TravelNotice.id > last_id)
            if not rematch:
                query = query.where(TravelNotice.matched_at.is_(None))
            batch = session.execute(query.order_by(TravelNotice.id).limit(BATCH)).all()
            if not batch:
                break
            last_id = batch[-1].id
            existing: set[tuple[int, str]] = set()
            if rematch:
                existing = set(
                    session.execute(
                        select(TravelAlert.notice_id, TravelAlert.watch_id).where(
                            TravelAlert.notice_id.in_([n.id for n in batch])
                        )
                    )
                )
            rows: list[dict[str, Any]] = []
            now = utcnow()
            for notice in batch:
                departure_day = notice.departure_at.date()
                for found in index.match(notice_person(notice), threshold=threshold):
                    entry = entries[found.key]
                    if entry.valid_until < departure_day or (notice.id, found.key) in existing:
                        continue
                    rows.append(
                        {
                            "notice_id": notice.id,
                            "entry_id": entry.id,
                            "watch_id": entry.watch_id,
                            "score": found.score,
                            "matched_fields": found.fields,
                            "notes": list(found.notes),
                            "destination_country": notice.destination_country,
                            "agency_id": agencies.get(notice.destination_country),
                            "state": AlertState.OPEN.value,
                            "created_at": now,
                        }
                    )
            insert_rows(session, TravelAlert, rows)
            session.execute(
                update(TravelNotice)
                .where(TravelNotice.id.in_([n.id for n in batch]))
                .values(matched_at=now)
            )
            notices += len(batch)
            alerts += len(rows)
            if on_progress is not None:
                on_progress(len(batch))
    with database.session() as session:
        record_event(
            session,
            actor=viewer.actor,
            agency_id=viewer.agency_id,
            action="travel.match",
            object_type="travel_notice",
            detail=f"{notices} notices against {len(entries)} entries live on {on.isoformat()}: "
            f"{alerts} alerts",
        )
    return MatchSummary(notices=notices, alerts=alerts, watch_entries=len(entries))
