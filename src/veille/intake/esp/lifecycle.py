"""Opening and discarding an ESP submission: submit, retract, expire.

An open submission is kept in ``intake_esp_report`` until ``finish``
(:mod:`veille.intake.esp.finish`) makes it a Veille report. An unfinished
one expires (deleted with its files) 24 hours after it was opened or 1 hour
after its last change, whichever is later; a retracted one is discarded at
once. On PostgreSQL ``submit`` is a single statement (the report and its
audit event, joined by a ``WITH`` clause, committed on its own).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache, partial
from typing import Any, cast

from sqlalchemy import Connection, Integer, Table, bindparam, insert, select, update

from veille.intake.esp.audit import AUDIT, AUDIT_COLUMNS, audit, audit_row
from veille.intake.esp.claims import (
    EXPIRED,
    OPEN,
    REPORTS,
    RETRACT,
    RETRACTED,
    claim_open,
    expiry,
)
from veille.intake.esp.errors import EspError
from veille.intake.esp.mapping import map_report
from veille.intake.esp.parse import EspXmlError, parse_document
from veille.intake.esp.record import submission_record
from veille.intake.models import EspFile
from veille.intake.settings import IntakeSettings
from veille.intake.uploads import remove_quietly
from veille.store.db import Database
from veille.store.raw import INLINE_BYTES, PgStatement, Plan, compute, run_plan
from veille.store.types import utcnow

_FILES = cast(Table, EspFile.__table__)
_INSERT_OPEN_REPORT = insert(REPORTS).returning(REPORTS.c.id)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def opened_values(agency_id: int, body: bytes, settings: IntakeSettings) -> dict[str, Any]:
    """The ``intake_esp_report`` row of a report document; a 4100/4110 error if it is not valid."""
    try:
        mapped = map_report(parse_document(body, "report"))
    except EspXmlError as error:
        raise EspError.of_document(error) from None
    now = utcnow()
    # What finish will store must be valid: refuse now what could never be stored.
    submission_record(agency_id, 1, now, mapped.fields, [], [])
    payload = {
        "fields": mapped.fields,
        "provided_country": mapped.provided_country,
        "ips": mapped.ips,
    }
    return {
        "agency_id": agency_id,
        "state": OPEN,
        "record_json": json.dumps(payload, default=_json_default),
        "opened_at": now,
        "changed_at": now,
        "expires_at": expiry(now, now, settings),
    }


@lru_cache(maxsize=1)
def _pg_submit_statement() -> PgStatement:
    """PostgreSQL: open the report and audit it in one statement; returns the report id."""
    opened = (
        insert(REPORTS)
        .values(
            agency_id=bindparam("agency_id", type_=Integer()),
            state=bindparam("state"),
            record_json=bindparam("record_json"),
            opened_at=bindparam("opened_at"),
            changed_at=bindparam("changed_at"),
            expires_at=bindparam("expires_at"),
        )
        .returning(REPORTS.c.id, REPORTS.c.opened_at)
        .cte("opened")
    )
    row = audit_row("esp.submit", "esp_report", opened.c.id, opened.c.opened_at)
    return PgStatement.of(
        insert(AUDIT)
        .from_select(AUDIT_COLUMNS, row.select_from(opened))
        .returning(AUDIT.c.object_id)
    )


def submit_plan(agency_id: int, body: bytes, settings: IntakeSettings, actor: str) -> Plan[int]:
    """PostgreSQL: :func:`submit_report` as a plan of one statement (run in autocommit)."""
    values = yield from compute(
        partial(opened_values, agency_id, body, settings), offload=len(body) > INLINE_BYTES
    )
    parameters = {**values, "audit_actor": actor, "audit_agency": agency_id}
    (opened,) = yield _pg_submit_statement(), parameters
    return int(opened.object_id)


def submit_report(
    database: Database, agency_id: int, body: bytes, settings: IntakeSettings, actor: str
) -> int:
    """Validate and open a report; returns its ESP report id."""
    if database.dialect == "postgresql":
        with database.autocommit.connect() as connection:
            return run_plan(submit_plan(agency_id, body, settings, actor), connection)
    values = opened_values(agency_id, body, settings)
    with database.engine.begin() as connection:
        esp_report_id: int = connection.execute(_INSERT_OPEN_REPORT, values).scalar_one()
        audit(
            connection,
            actor=actor,
            agency_id=agency_id,
            action="esp.submit",
            object_type="esp_report",
            object_id=esp_report_id,
        )
    return esp_report_id


def _discard(connection: Connection, esp_report_id: int, state: str) -> list[str | None]:
    """Delete the file rows of a claimed open report and mark it ``state``.

    Returns the spooled files' paths, to delete once the transaction is committed.
    """
    paths: list[str | None] = list(
        connection.execute(
            _FILES.delete()
            .where(_FILES.c.esp_report_id == esp_report_id)
            .returning(_FILES.c.spool_path)
        ).scalars()
    )
    connection.execute(
        update(REPORTS)
        .where(REPORTS.c.id == esp_report_id)
        .values(state=state, record_json="{}", changed_at=utcnow())
    )
    return paths


def retract_report(database: Database, agency_id: int, esp_report_id: int, actor: str) -> None:
    """Discard an open report and its files."""
    with database.engine.begin() as connection:
        claim_open(connection, agency_id, esp_report_id, "id", RETRACT)
        paths = _discard(connection, esp_report_id, RETRACTED)
        audit(
            connection,
            actor=actor,
            agency_id=agency_id,
            action="esp.retract",
            object_type="esp_report",
            object_id=esp_report_id,
        )
    for path in paths:
        remove_quietly(path)


def expire_reports(database: Database, now: datetime | None = None) -> int:
    """Discard every open report past its expiry time; returns how many."""
    now = now or utcnow()
    with database.engine.begin() as connection:
        # Claim the expired rows first (an UPDATE takes the write lock on SQLite and
        # the row locks on PostgreSQL), so that a racing upload cannot slip in.
        expired = (
            connection.execute(
                update(REPORTS)
                .where(
                    REPORTS.c.id.in_(
                        select(REPORTS.c.id)
                        .where(REPORTS.c.state == OPEN, REPORTS.c.expires_at <= now)
                        .limit(500)
                        .scalar_subquery()
                    ),
                    REPORTS.c.state == OPEN,
                    REPORTS.c.expires_at <= now,
                )
                .values(state=EXPIRED, changed_at=utcnow())
                .returning(REPORTS.c.id)
            )
            .scalars()
            .all()
        )
        paths = [p for esp_id in expired for p in _discard(connection, esp_id, EXPIRED)]
    for path in paths:
        remove_quietly(path)
    return len(expired)
