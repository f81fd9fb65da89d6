"""The claim that opens every ESP call: check that the report is open, change it, lock it.

A provider sends six calls per report, so per-call overhead decides the
throughput. Each call starts with the ``UPDATE`` that checks the report is
open and locks its row (two uploads to one report, or an upload racing a
finish, take turns); only when it matches nothing is the row read again to
tell which error to answer. A report of another agency is answered exactly
like one that does not exist.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Integer, Table, bindparam, func, select, update

from veille.intake.esp.codes import ResponseCode
from veille.intake.esp.errors import EspError, no_open_report
from veille.intake.models import EspReport
from veille.intake.settings import IntakeSettings
from veille.store.raw import PgStatement, Plan, run_plan
from veille.store.types import MAX_ID, UTCDateTime, utcnow

# The states of an ESP submission (``intake_esp_report.state``).
OPEN = "open"
FINISHED = "finished"
RETRACTED = "retracted"
EXPIRED = "expired"

REPORTS = cast(Table, EspReport.__table__)

# Claims: which change each call makes to the open report it names.
TOUCH = "touch"  # fileinfo: record a change and push the expiry
UPLOAD = "upload"  # a touch that also counts the file, up to esp_max_files_per_report
FINISH = "finish"
RETRACT = "retract"


def expiry(opened: datetime, changed: datetime, settings: IntakeSettings) -> datetime:
    """When an unfinished report expires: 24 hours after it was opened or 1 hour after its
    last change (the settings' TTLs), whichever is later."""
    return max(
        opened + timedelta(seconds=settings.esp_open_ttl_s),
        changed + timedelta(seconds=settings.esp_idle_ttl_s),
    )


@lru_cache(maxsize=8)
def claim_statement(dialect: str, claim: str) -> Any:
    """The UPDATE that checks a report is open and unexpired, changes it and locks its row.

    Built once per dialect and claim: SQLAlchemy then reuses its compiled
    form without rebuilding the expression on every request.
    """
    now = bindparam("claim_now", type_=UTCDateTime())
    values: dict[str, Any] = {"changed_at": now}
    returning: list[Any] = [REPORTS.c.id]
    if claim in (TOUCH, UPLOAD):
        # expires = max(opened + open TTL, now + idle TTL); the stored expiry already
        # holds max(opened + open TTL, earlier change + idle TTL), so the later of it
        # and now + idle TTL is the same value, without reading the row first.
        idle = bindparam("claim_idle_expiry", type_=UTCDateTime())
        later = func.max if dialect == "sqlite" else func.greatest
        values["expires_at"] = later(REPORTS.c.expires_at, idle, type_=UTCDateTime())
    elif claim == FINISH:
        values.update(state=FINISHED, finished_at=now)
        returning += [REPORTS.c.opened_at, REPORTS.c.record_json]
    conditions = [
        REPORTS.c.id == bindparam("claim_id"),
        REPORTS.c.agency_id == bindparam("claim_agency"),
        REPORTS.c.state == OPEN,
        REPORTS.c.expires_at > now,
    ]
    if claim == UPLOAD:
        # Counted on the report's row, not by counting its files: the row lock orders
        # concurrent uploads and PostgreSQL re-checks this condition on the row as the
        # previous upload left it, so the cap holds exactly.
        values["file_count"] = REPORTS.c.file_count + 1
        conditions.append(REPORTS.c.file_count < bindparam("claim_max_files", type_=Integer()))
    return update(REPORTS).where(*conditions).values(values).returning(*returning)


@lru_cache(maxsize=8)
def _pg_claim_statement(claim: str) -> PgStatement:
    """PostgreSQL: :func:`claim_statement`, compiled once and sent through psycopg."""
    return PgStatement.of(claim_statement("postgresql", claim))


def claim_parameters(
    agency_id: int,
    esp_report_id: int,
    element: str,
    claim: str,
    settings: IntakeSettings | None = None,
) -> dict[str, Any]:
    """The parameters of :func:`claim_statement`; a 5001 error for an impossible id."""
    if not 0 < esp_report_id <= MAX_ID:
        raise no_open_report(element, esp_report_id)
    now = utcnow()
    parameters: dict[str, Any] = {
        "claim_now": now,
        "claim_id": esp_report_id,
        "claim_agency": agency_id,
    }
    if claim in (TOUCH, UPLOAD):
        assert settings is not None
        parameters["claim_idle_expiry"] = now + timedelta(seconds=settings.esp_idle_ttl_s)
    if claim == UPLOAD:
        assert settings is not None
        parameters["claim_max_files"] = settings.esp_max_files_per_report
    return parameters


def refused(
    refusal: EspError | None,
    element: str,
    esp_report_id: int,
    claim: str,
    settings: IntakeSettings | None,
) -> EspError:
    """Why a claim matched nothing: the report's own refusal, else (it is open) the cap on
    files for an upload, else no such report."""
    if refusal is not None:
        return refusal
    if claim == UPLOAD:
        assert settings is not None
        return EspError(
            ResponseCode.VALIDATION_FAILED,
            f"{element}: report {esp_report_id} already has {settings.esp_max_files_per_report} "
            "files, the most one report may have",
            409,
        )
    return no_open_report(element, esp_report_id)


_REFUSAL_QUERY = select(REPORTS.c.state, REPORTS.c.expires_at).where(
    REPORTS.c.id == bindparam("r_id", type_=Integer()),
    REPORTS.c.agency_id == bindparam("r_agency", type_=Integer()),
)


@lru_cache(maxsize=1)
def _pg_refusal_query() -> PgStatement:
    return PgStatement.of(_REFUSAL_QUERY)


def _refusal_of(found: Any, esp_report_id: int, element: str, now: datetime) -> EspError | None:
    """Why a claim matched nothing, from the report's (state, expiry) or None if there is no
    such report: the 5001/5101/5102 error, or None if the report is open.

    An expired report no longer exists (it was, or is about to be, deleted
    with its files): 5001, whose description says it expired.
    """
    state, expires_at = found or (None, None)
    if state == FINISHED:
        return EspError(
            ResponseCode.REPORT_ALREADY_FINISHED,
            f"{element}: report {esp_report_id} is already finished",
            409,
        )
    if state == RETRACTED:
        return EspError(
            ResponseCode.REPORT_ALREADY_RETRACTED,
            f"{element}: report {esp_report_id} was retracted",
            409,
        )
    if state == EXPIRED or (state == OPEN and expires_at is not None and expires_at <= now):
        return EspError(
            ResponseCode.REPORT_DOES_NOT_EXIST,
            f"{element}: report {esp_report_id} has expired",
            404,
        )
    if state == OPEN:
        return None
    return no_open_report(element, esp_report_id)


def _refusal(
    connection: Connection, agency_id: int, esp_report_id: int, element: str, now: datetime
) -> EspError | None:
    """:func:`_refusal_of` the report read on ``connection``."""
    found = connection.execute(_REFUSAL_QUERY, {"r_id": esp_report_id, "r_agency": agency_id})
    return _refusal_of(found.first(), esp_report_id, element, now)


def pg_refusal(
    agency_id: int, esp_report_id: int, element: str, now: datetime
) -> Plan[EspError | None]:
    """PostgreSQL: :func:`_refusal` as a plan."""
    found = yield _pg_refusal_query(), {"r_id": esp_report_id, "r_agency": agency_id}
    return _refusal_of(found[0] if found else None, esp_report_id, element, now)


def pg_claim(
    agency_id: int,
    esp_report_id: int,
    element: str,
    claim: str,
    settings: IntakeSettings | None = None,
) -> Plan[Any]:
    """PostgreSQL: :func:`claim_open` as a plan."""
    parameters = claim_parameters(agency_id, esp_report_id, element, claim, settings)
    claimed = yield _pg_claim_statement(claim), parameters
    if claimed:
        return claimed[0]
    refusal = yield from pg_refusal(agency_id, esp_report_id, element, parameters["claim_now"])
    raise refused(refusal, element, esp_report_id, claim, settings)


def claim_open(
    connection: Connection,
    agency_id: int,
    esp_report_id: int,
    element: str,
    claim: str,
    settings: IntakeSettings | None = None,
) -> Any:
    """Change an open, unexpired report of ``agency_id`` (locking its row); else the 5xxx error.

    Returns the changed row (``id``, and for ``FINISH`` ``opened_at`` and ``record_json``).
    """
    if connection.dialect.name == "postgresql":
        return run_plan(pg_claim(agency_id, esp_report_id, element, claim, settings), connection)
    parameters = claim_parameters(agency_id, esp_report_id, element, claim, settings)
    row = connection.execute(claim_statement("sqlite", claim), parameters).first()
    if row is not None:
        return row
    refusal = _refusal(connection, agency_id, esp_report_id, element, parameters["claim_now"])
    raise refused(refusal, element, esp_report_id, claim, settings)
