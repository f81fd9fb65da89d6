"""The life cycle of an ESP report: submit, upload, fileinfo, finish, retract, expire.

An open submission is kept in ``intake_esp_report``; it becomes a Veille
report only on ``finish``. An unfinished one expires (deleted with its files)
24 hours after it was opened or 1 hour after its last change, whichever is
later. A finished report cannot change; a retracted one is discarded.
Every function takes the agency the credentials belong to, and a report of
another agency is answered exactly like one that does not exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from veille.intake.esp.mapping import map_file_details, map_report
from veille.intake.esp.parse import EspXmlError, parse_document
from veille.intake.models import EspFile, EspReport, MediaDetail
from veille.intake.schema import MediaIn, ReportIn
from veille.intake.settings import IntakeSettings
from veille.intake.store import Incoming, store_reports, write_lock
from veille.intake.uploads import SpooledFile, remove_quietly
from veille.intake.worker import enqueue_media
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.types import utcnow
from veille.vocab import Channel, ReporterKind

SUCCESS = 0
VALIDATION_FAILED = 4100
ALREADY_FINISHED = 5102

OPEN = "open"
FINISHED = "finished"
RETRACTED = "retracted"
EXPIRED = "expired"


class EspError(Exception):
    """A request the API answers with a non-zero response code."""

    def __init__(self, code: int, description: str, http_status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.http_status = http_status


@dataclass(frozen=True)
class Finished:
    """The answer to ``finish``: the report id and its file ids."""

    esp_report_id: int
    report_id: int
    file_ids: list[str]


def _source(agency_id: int) -> str:
    return f"esp:{agency_id}"


def _expiry(opened: datetime, changed: datetime, settings: IntakeSettings) -> datetime:
    return max(
        opened + timedelta(seconds=settings.esp_open_ttl_s),
        changed + timedelta(seconds=settings.esp_idle_ttl_s),
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def submit_report(
    database: Database, agency_id: int, body: bytes, settings: IntakeSettings, actor: str
) -> int:
    """Validate and open a report; returns its ESP report id."""
    try:
        mapped = map_report(parse_document(body, "report"))
    except EspXmlError as error:
        raise EspError(VALIDATION_FAILED, str(error)) from None
    now = utcnow()
    payload = {
        "fields": mapped.fields,
        "provided_country": mapped.provided_country,
        "ips": mapped.ips,
    }
    with database.session() as session:
        write_lock(session)
        row = EspReport(
            agency_id=agency_id,
            state=OPEN,
            record_json=json.dumps(payload, default=_json_default),
            opened_at=now,
            changed_at=now,
            expires_at=_expiry(now, now, settings),
        )
        session.add(row)
        session.flush()
        record_event(
            session,
            actor=actor,
            agency_id=agency_id,
            action="esp.submit",
            object_type="esp_report",
            object_id=row.id,
        )
        return row.id


def _open_report(session: Session, agency_id: int, esp_report_id: int, element: str) -> EspReport:
    if not 0 < esp_report_id < 2**31:
        raise EspError(VALIDATION_FAILED, f"{element}: no open report {esp_report_id}", 404)
    row = session.scalar(
        select(EspReport)
        .where(EspReport.id == esp_report_id, EspReport.agency_id == agency_id)
        .with_for_update()
    )
    if row is None or row.state in (RETRACTED, EXPIRED):
        raise EspError(VALIDATION_FAILED, f"{element}: no open report {esp_report_id}", 404)
    if row.state == FINISHED:
        raise EspError(
            ALREADY_FINISHED, f"{element}: report {esp_report_id} is already finished", 409
        )
    if row.expires_at <= utcnow():
        raise EspError(VALIDATION_FAILED, f"{element}: report {esp_report_id} has expired", 404)
    return row


def _touch(row: EspReport, settings: IntakeSettings) -> None:
    now = utcnow()
    row.changed_at = now
    row.expires_at = _expiry(row.opened_at, now, settings)


def parse_report_id(value: str | None, element: str = "id") -> int:
    """A report id from a form field, or a 4100 error naming the field."""
    text = (value or "").strip()
    if not text.isdigit() or len(text) > 12:
        raise EspError(VALIDATION_FAILED, f"{element}: expected a report id (digits), got {text!r}")
    return int(text)


def add_upload(
    database: Database,
    agency_id: int,
    esp_report_id: int,
    spooled: SpooledFile,
    settings: IntakeSettings,
) -> str:
    """Attach a spooled file to an open report; returns its file id."""
    import uuid

    try:
        with database.session() as session:
            write_lock(session)
            row = _open_report(session, agency_id, esp_report_id, "id")
            file_id = uuid.uuid4().hex
            session.add(
                EspFile(
                    esp_report_id=row.id,
                    file_id=file_id,
                    file_name=(spooled.file_name or None) and spooled.file_name[:500],
                    media_type=spooled.media_type,
                    size_bytes=spooled.size_bytes,
                    md5=spooled.md5,
                    sha1=spooled.sha1,
                    sha256=spooled.sha256,
                    spool_path=str(spooled.path),
                )
            )
            _touch(row, settings)
            return file_id
    except BaseException:
        remove_quietly(spooled.path)
        raise


def add_file_details(
    database: Database, agency_id: int, body: bytes, settings: IntakeSettings
) -> tuple[int, str]:
    """Record a ``fileDetails`` document; returns (report id, file id)."""
    try:
        mapped = map_file_details(parse_document(body, "fileDetails"))
    except EspXmlError as error:
        raise EspError(VALIDATION_FAILED, str(error)) from None
    with database.session() as session:
        write_lock(session)
        row = _open_report(session, agency_id, mapped.report_id, "fileDetails/reportId")
        file_row = session.scalar(
            select(EspFile).where(
                EspFile.file_id == mapped.file_id, EspFile.esp_report_id == row.id
            )
        )
        if file_row is None:
            raise EspError(
                VALIDATION_FAILED,
                f"fileDetails/fileId: no file {mapped.file_id!r} in report {row.id}",
                404,
            )
        file_row.details_json = json.dumps(mapped.__dict__)
        _touch(row, settings)
    return mapped.report_id, mapped.file_id


def finish_report(database: Database, agency_id: int, esp_report_id: int, actor: str) -> Finished:
    """Turn an open submission into a Veille report and queue its files for hashing."""
    with database.session() as session:
        write_lock(session)
        row = _open_report(session, agency_id, esp_report_id, "id")
        files = session.scalars(
            select(EspFile).where(EspFile.esp_report_id == row.id).order_by(EspFile.id)
        ).all()
        payload = json.loads(row.record_json)
        fields: dict[str, Any] = payload["fields"]
        details = [json.loads(f.details_json) if f.details_json else None for f in files]
        offences = set(fields["offence_types"])
        flags = set(fields["flags"])
        identifiers = list(fields["identifiers"])
        notes = [fields["summary"]] if fields.get("summary") else []
        for detail in details:
            if detail is None:
                continue
            offences.update(detail["offences"])
            flags.update(detail["flags"])
            identifiers.extend(i for i in detail["identifiers"] if i not in identifiers)
            notes.extend(detail["notes"])
        record = ReportIn.model_validate(
            {
                **fields,
                "external_id": str(row.id),
                "source": _source(agency_id),
                "channel": Channel.ESP_API,
                "reporter_kind": ReporterKind.ESP,
                "received_at": row.opened_at,
                "offence_types": sorted(offences),
                "flags": sorted(flags),
                "identifiers": identifiers,
                "summary": "\n".join(notes)[:20_000] or None,
                "media": [
                    MediaIn(
                        file_name=(detail or {}).get("file_name") or f.file_name,
                        size_bytes=f.size_bytes,
                        media_type=f.media_type,
                        md5=f.md5,
                        sha1=f.sha1,
                        sha256=f.sha256,
                    ).model_dump()
                    for f, detail in zip(files, details, strict=True)
                ],
            }
        )
        connection = session.connection()
        stored = store_reports(
            connection,
            [
                Incoming(
                    record,
                    _source(agency_id),
                    agency_id,
                    extra_ips=tuple(payload["ips"]),
                    provided_country=payload["provided_country"],
                )
            ],
        )[0]
        jobs: list[tuple[int, str | None]] = []
        for f, detail, media_id in zip(files, details, stored.media_item_ids, strict=True):
            session.add(
                MediaDetail(
                    media_item_id=media_id,
                    esp_file_id=f.file_id,
                    industry_classification=(detail or {}).get("industry_classification"),
                    file_relevance=(detail or {}).get("file_relevance"),
                    original_hashes_json=json.dumps((detail or {}).get("original_hashes") or []),
                    annotations=",".join((detail or {}).get("annotations") or [])[:500] or None,
                )
            )
            jobs.append((media_id, f.spool_path))
        enqueue_media(session, stored.report_id, jobs)
        for f in files:
            f.spool_path = None
        row.state = FINISHED
        row.finished_at = utcnow()
        row.changed_at = row.finished_at
        row.report_id = stored.report_id
        record_event(
            session,
            actor=actor,
            agency_id=agency_id,
            action="esp.finish",
            object_type="report",
            object_id=stored.report_id,
            detail=f"ESP report {row.id}, {len(files)} file(s)",
        )
        return Finished(row.id, stored.report_id, [f.file_id for f in files])


def _discard(session: Session, row: EspReport, state: str) -> int:
    files = session.scalars(select(EspFile).where(EspFile.esp_report_id == row.id)).all()
    for f in files:
        remove_quietly(f.spool_path)
        session.delete(f)
    row.state = state
    row.record_json = "{}"
    row.changed_at = utcnow()
    return len(files)


def retract_report(database: Database, agency_id: int, esp_report_id: int, actor: str) -> None:
    """Discard an open report and its files."""
    with database.session() as session:
        write_lock(session)
        row = _open_report(session, agency_id, esp_report_id, "id")
        _discard(session, row, RETRACTED)
        record_event(
            session,
            actor=actor,
            agency_id=agency_id,
            action="esp.retract",
            object_type="esp_report",
            object_id=row.id,
        )


def expire_reports(database: Database, now: datetime | None = None) -> int:
    """Discard every open report past its expiry time; returns how many."""
    now = now or utcnow()
    with database.session() as session:
        write_lock(session)
        rows = session.scalars(
            select(EspReport).where(EspReport.state == OPEN, EspReport.expires_at <= now).limit(500)
        ).all()
        for row in rows:
            _discard(session, row, EXPIRED)
        return len(rows)
