"""The life cycle of an ESP report: submit, upload, fileinfo, finish, retract, expire.

An open submission is kept in ``intake_esp_report``; it becomes a Veille
report only on ``finish``. An unfinished one expires (deleted with its files)
24 hours after it was opened or 1 hour after its last change, whichever is
later. A finished report cannot change; a retracted one is discarded.
Every function takes the agency the credentials belong to, and a report of
another agency is answered exactly like one that does not exist.

A provider sends six calls per report, so per-call overhead decides the
throughput. Each call starts with the ``UPDATE`` that checks the report is
open and locks its row (two uploads to one report, or an upload racing a
finish, take turns); only when it matches nothing is the row read again to
tell which error to answer. On SQLite a call is one transaction of a few
SQLAlchemy Core statements. On PostgreSQL, where every statement is a round
trip to the server, ``submit``, ``upload`` and ``fileinfo`` are each a single
statement (the claim and the write joined by a ``WITH`` clause, committed on
its own), and ``finish`` is a transaction of five statements. Those calls
are written once, as plans (:mod:`veille.store.raw`): ``submit_report`` and
the others run them in a thread; the web server runs the same plans on
asynchronous connections (``submit_plan`` and the others).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import (
    Connection,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    null,
    select,
    true,
    update,
)
from sqlalchemy import (
    cast as sql_cast,
)

from veille.intake.esp.codes import ResponseCode
from veille.intake.esp.mapping import MAX_IDENTIFIERS, map_file_details, map_report
from veille.intake.esp.parse import EspXmlError, parse_document
from veille.intake.models import EspFile, EspReport, MediaDetail
from veille.intake.schema import ReportIn
from veille.intake.settings import IntakeSettings
from veille.intake.store import Incoming, pg_store_new_report, store_new_report
from veille.intake.uploads import SpooledFile, remove_quietly
from veille.intake.worker import enqueue_media, pg_enqueue_parameters, pg_enqueue_statements
from veille.store.db import Database
from veille.store.models import AuditEvent
from veille.store.raw import (
    INLINE_BYTES,
    PgStatement,
    Plan,
    compute,
    pg_array,
    run_plan,
    sql_constant,
)
from veille.store.types import MAX_ID, UTCDateTime, utcnow
from veille.vocab import Channel, ReporterKind

OPEN = "open"
FINISHED = "finished"
RETRACTED = "retracted"
EXPIRED = "expired"

_REPORTS = cast(Table, EspReport.__table__)
_FILES = cast(Table, EspFile.__table__)
_MEDIA_DETAILS = cast(Table, MediaDetail.__table__)
_AUDIT = cast(Table, AuditEvent.__table__)


_INSERT_OPEN_REPORT = insert(_REPORTS).returning(_REPORTS.c.id)
_INSERT_FILE = insert(_FILES)
_INSERT_AUDIT = insert(_AUDIT)
_INSERT_MEDIA_DETAILS = insert(_MEDIA_DETAILS)
_DESCRIBE_FILE = (
    update(_FILES)
    .where(
        _FILES.c.file_id == bindparam("d_file_id"),
        _FILES.c.esp_report_id == bindparam("d_report_id"),
    )
    .values(details_json=bindparam("d_details"))
)
_TAKE_FILES = (
    delete(_FILES)
    .where(_FILES.c.esp_report_id == bindparam("t_report_id"))
    .returning(
        _FILES.c.id,
        _FILES.c.file_id,
        _FILES.c.file_name,
        _FILES.c.media_type,
        _FILES.c.size_bytes,
        _FILES.c.md5,
        _FILES.c.sha1,
        _FILES.c.sha256,
        _FILES.c.spool_path,
        _FILES.c.details_json,
    )
)
_LINK_REPORT = (
    update(_REPORTS)
    .where(_REPORTS.c.id == bindparam("l_report_id"))
    .values(report_id=bindparam("l_veille_id"))
)


class EspError(Exception):
    """A request the API answers with a non-zero response code."""

    def __init__(self, code: ResponseCode, description: str, http_status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.http_status = http_status

    @classmethod
    def of_document(cls, error: EspXmlError) -> EspError:
        """4110 for a document that is not well-formed XML, else 4100; both name the element."""
        code = ResponseCode.MALFORMED_XML if error.malformed else ResponseCode.VALIDATION_FAILED
        return cls(code, str(error))


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


def _audit(
    connection: Connection,
    *,
    actor: str,
    agency_id: int,
    action: str,
    object_type: str,
    object_id: int,
    detail: str | None = None,
) -> None:
    connection.execute(
        _INSERT_AUDIT,
        {
            "actor": actor,
            "agency_id": agency_id,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "detail": detail,
            "at": utcnow(),
            "success": True,
        },
    )


def _opened_values(agency_id: int, body: bytes, settings: IntakeSettings) -> dict[str, Any]:
    """The ``intake_esp_report`` row of a report document; a 4100/4110 error if it is not valid."""
    try:
        mapped = map_report(parse_document(body, "report"))
    except EspXmlError as error:
        raise EspError.of_document(error) from None
    now = utcnow()
    # What finish will store must be valid: refuse now what could never be stored.
    _record(agency_id, 1, now, mapped.fields, [], [])
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
        "expires_at": _expiry(now, now, settings),
    }


def submit_plan(agency_id: int, body: bytes, settings: IntakeSettings, actor: str) -> Plan[int]:
    """PostgreSQL: :func:`submit_report` as a plan of one statement (run in autocommit)."""
    values = yield from compute(
        partial(_opened_values, agency_id, body, settings), offload=len(body) > INLINE_BYTES
    )
    (opened,) = yield _pg("submit"), {**values, "audit_actor": actor, "audit_agency": agency_id}
    return int(opened.object_id)


def submit_report(
    database: Database, agency_id: int, body: bytes, settings: IntakeSettings, actor: str
) -> int:
    """Validate and open a report; returns its ESP report id."""
    if database.dialect == "postgresql":
        with database.autocommit.connect() as connection:
            return run_plan(submit_plan(agency_id, body, settings, actor), connection)
    values = _opened_values(agency_id, body, settings)
    with database.engine.begin() as connection:
        esp_report_id: int = connection.execute(_INSERT_OPEN_REPORT, values).scalar_one()
        _audit(
            connection,
            actor=actor,
            agency_id=agency_id,
            action="esp.submit",
            object_type="esp_report",
            object_id=esp_report_id,
        )
    return esp_report_id


@lru_cache(maxsize=16)
def _pg(name: str) -> PgStatement:
    """The PostgreSQL statement of a call, compiled once and sent through psycopg."""
    statements: dict[str, Callable[[], Any]] = {
        "submit": _pg_submit_statement,
        "upload": _pg_upload_statement,
        "describe": _pg_describe_statement,
        **{
            f"claim_{claim}": partial(_claim_statement, "postgresql", claim)
            for claim in (TOUCH, UPLOAD, FINISH, RETRACT)
        },
        "take_files": lambda: _TAKE_FILES,
        "refusal": lambda: _REFUSAL_QUERY,
        "finish": _pg_finish_statement,
    }
    return PgStatement.of(statements[name]())


def _audit_row(action: str, object_type: str, object_id: Any, at: Any, detail: Any = None) -> Any:
    """A SELECT of one ``audit_event`` row, for ``INSERT ... SELECT`` on PostgreSQL.

    ``audit_actor`` and ``audit_agency`` come as parameters of the statement
    (named apart from any column: SQLAlchemy would add a parameter named like
    a column to the ``SET`` of an ``UPDATE`` in the same statement).
    """
    return select(
        bindparam("audit_actor", type_=String()),
        bindparam("audit_agency", type_=Integer()),
        sql_constant(action),
        sql_constant(object_type),
        sql_cast(object_id, String),
        null() if detail is None else detail,
        at,
        true(),
    )


_AUDIT_COLUMNS = [
    "actor",
    "agency_id",
    "action",
    "object_type",
    "object_id",
    "detail",
    "at",
    "success",
]


@lru_cache(maxsize=1)
def _pg_submit_statement() -> Any:
    """PostgreSQL: open the report and audit it in one statement; returns the report id."""
    opened = (
        insert(_REPORTS)
        .values(
            agency_id=bindparam("agency_id", type_=Integer()),
            state=bindparam("state"),
            record_json=bindparam("record_json"),
            opened_at=bindparam("opened_at"),
            changed_at=bindparam("changed_at"),
            expires_at=bindparam("expires_at"),
        )
        .returning(_REPORTS.c.id, _REPORTS.c.opened_at)
        .cte("opened")
    )
    row = _audit_row("esp.submit", "esp_report", opened.c.id, opened.c.opened_at)
    return (
        insert(_AUDIT)
        .from_select(_AUDIT_COLUMNS, row.select_from(opened))
        .returning(_AUDIT.c.object_id)
    )


# Claims: which change each call makes to the open report it names.
TOUCH = "touch"  # fileinfo: record a change and push the expiry
UPLOAD = "upload"  # a touch that also counts the file, up to esp_max_files_per_report
FINISH = "finish"
RETRACT = "retract"


@lru_cache(maxsize=8)
def _claim_statement(dialect: str, claim: str) -> Any:
    """The UPDATE that checks a report is open and unexpired, changes it and locks its row.

    Built once per dialect and claim: SQLAlchemy then reuses its compiled
    form without rebuilding the expression on every request.
    """
    now = bindparam("claim_now", type_=UTCDateTime())
    values: dict[str, Any] = {"changed_at": now}
    returning: list[Any] = [_REPORTS.c.id]
    if claim in (TOUCH, UPLOAD):
        # expires = max(opened + open TTL, now + idle TTL); the stored expiry already
        # holds max(opened + open TTL, earlier change + idle TTL), so the later of it
        # and now + idle TTL is the same value, without reading the row first.
        idle = bindparam("claim_idle_expiry", type_=UTCDateTime())
        later = func.max if dialect == "sqlite" else func.greatest
        values["expires_at"] = later(_REPORTS.c.expires_at, idle, type_=UTCDateTime())
    elif claim == FINISH:
        values.update(state=FINISHED, finished_at=now)
        returning += [_REPORTS.c.opened_at, _REPORTS.c.record_json]
    conditions = [
        _REPORTS.c.id == bindparam("claim_id"),
        _REPORTS.c.agency_id == bindparam("claim_agency"),
        _REPORTS.c.state == OPEN,
        _REPORTS.c.expires_at > now,
    ]
    if claim == UPLOAD:
        # Counted on the report's row, not by counting its files: the row lock orders
        # concurrent uploads and PostgreSQL re-checks this condition on the row as the
        # previous upload left it, so the cap holds exactly.
        values["file_count"] = _REPORTS.c.file_count + 1
        conditions.append(_REPORTS.c.file_count < bindparam("claim_max_files", type_=Integer()))
    return update(_REPORTS).where(*conditions).values(values).returning(*returning)


def _claim_parameters(
    agency_id: int,
    esp_report_id: int,
    element: str,
    claim: str,
    settings: IntakeSettings | None = None,
) -> dict[str, Any]:
    """The parameters of :func:`_claim_statement`; a 5001 error for an impossible id."""
    if not 0 < esp_report_id <= MAX_ID:
        raise _no_open_report(element, esp_report_id)
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


def _refused(
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
    return _no_open_report(element, esp_report_id)


_REFUSAL_QUERY = select(_REPORTS.c.state, _REPORTS.c.expires_at).where(
    _REPORTS.c.id == bindparam("r_id", type_=Integer()),
    _REPORTS.c.agency_id == bindparam("r_agency", type_=Integer()),
)


def _no_open_report(element: str, esp_report_id: int) -> EspError:
    return EspError(
        ResponseCode.REPORT_DOES_NOT_EXIST, f"{element}: no open report {esp_report_id}", 404
    )


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
    return _no_open_report(element, esp_report_id)


def _refusal(
    connection: Connection, agency_id: int, esp_report_id: int, element: str, now: datetime
) -> EspError | None:
    """:func:`_refusal_of` the report read on ``connection``."""
    found = connection.execute(_REFUSAL_QUERY, {"r_id": esp_report_id, "r_agency": agency_id})
    return _refusal_of(found.first(), esp_report_id, element, now)


def _pg_refusal(
    agency_id: int, esp_report_id: int, element: str, now: datetime
) -> Plan[EspError | None]:
    """PostgreSQL: :func:`_refusal` as a plan."""
    found = yield _pg("refusal"), {"r_id": esp_report_id, "r_agency": agency_id}
    return _refusal_of(found[0] if found else None, esp_report_id, element, now)


def _pg_claim(
    agency_id: int,
    esp_report_id: int,
    element: str,
    claim: str,
    settings: IntakeSettings | None = None,
) -> Plan[Any]:
    """PostgreSQL: :func:`_claim_open` as a plan."""
    parameters = _claim_parameters(agency_id, esp_report_id, element, claim, settings)
    claimed = yield _pg(f"claim_{claim}"), parameters
    if claimed:
        return claimed[0]
    refusal = yield from _pg_refusal(agency_id, esp_report_id, element, parameters["claim_now"])
    raise _refused(refusal, element, esp_report_id, claim, settings)


def _claim_open(
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
        return run_plan(_pg_claim(agency_id, esp_report_id, element, claim, settings), connection)
    parameters = _claim_parameters(agency_id, esp_report_id, element, claim, settings)
    row = connection.execute(_claim_statement("sqlite", claim), parameters).first()
    if row is not None:
        return row
    refusal = _refusal(connection, agency_id, esp_report_id, element, parameters["claim_now"])
    raise _refused(refusal, element, esp_report_id, claim, settings)


_REPORT_ID = re.compile(r"[0-9]{1,12}")


def parse_report_id(value: str | None, element: str = "id") -> int:
    """A report id from a form field, or a 4100 error naming the field."""
    text = (value or "").strip()
    # ASCII digits only: str.isdigit() is also true of "²" (which int() refuses) and of
    # "١" (which int() reads as 1, so another spelling of report 1).
    if not _REPORT_ID.fullmatch(text):
        raise EspError(
            ResponseCode.VALIDATION_FAILED,
            f"{element}: expected a report id (digits), got {text!r}",
        )
    return int(text)


def _file_values(esp_report_id: int, spooled: SpooledFile) -> dict[str, Any]:
    return {
        "esp_report_id": esp_report_id,
        "file_id": uuid.uuid4().hex,
        "file_name": (spooled.file_name or None) and spooled.file_name[:500],
        "media_type": spooled.media_type,
        "size_bytes": spooled.size_bytes,
        "md5": spooled.md5,
        "sha1": spooled.sha1,
        "sha256": spooled.sha256,
        "spool_path": str(spooled.path),
        "created_at": utcnow(),
    }


_FILE_COLUMNS = [
    "file_id",
    "file_name",
    "media_type",
    "size_bytes",
    "md5",
    "sha1",
    "sha256",
    "spool_path",
    "created_at",
]


@lru_cache(maxsize=1)
def _pg_upload_statement() -> Any:
    """PostgreSQL: claim the open report and add the file in one statement."""
    claimed = _claim_statement("postgresql", UPLOAD).cte("claimed")
    row = select(
        claimed.c.id, *(bindparam(name, type_=_FILES.c[name].type) for name in _FILE_COLUMNS)
    ).select_from(claimed)
    return (
        insert(_FILES)
        .from_select(["esp_report_id", *_FILE_COLUMNS], row)
        .returning(_FILES.c.file_id)
    )


def upload_plan(
    agency_id: int, esp_report_id: int, spooled: SpooledFile, settings: IntakeSettings
) -> Plan[str]:
    """PostgreSQL: :func:`add_upload` as a plan of one statement (run in autocommit).

    The caller deletes the spooled file if the plan fails.
    """
    claim = _claim_parameters(agency_id, esp_report_id, "id", UPLOAD, settings)
    added = yield _pg("upload"), {**claim, **_file_values(esp_report_id, spooled)}
    if not added:
        refusal = yield from _pg_refusal(agency_id, esp_report_id, "id", claim["claim_now"])
        raise _refused(refusal, "id", esp_report_id, UPLOAD, settings)
    return str(added[0].file_id)


def add_upload(
    database: Database,
    agency_id: int,
    esp_report_id: int,
    spooled: SpooledFile,
    settings: IntakeSettings,
) -> str:
    """Attach a spooled file to an open report; returns its file id.

    The spooled file is deleted if the call fails.
    """
    try:
        if database.dialect == "postgresql":
            with database.autocommit.connect() as connection:
                return run_plan(
                    upload_plan(agency_id, esp_report_id, spooled, settings), connection
                )
        values = _file_values(esp_report_id, spooled)
        with database.engine.begin() as connection:
            _claim_open(connection, agency_id, esp_report_id, "id", UPLOAD, settings)
            connection.execute(_INSERT_FILE, values)
            return str(values["file_id"])
    except BaseException:
        remove_quietly(spooled.path)
        raise


@lru_cache(maxsize=1)
def _pg_describe_statement() -> Any:
    """PostgreSQL: claim the open report, if it has the file, and describe the file, at once."""
    has_file = exists().where(
        _FILES.c.esp_report_id == _REPORTS.c.id, _FILES.c.file_id == bindparam("d_file_id")
    )
    claimed = _claim_statement("postgresql", TOUCH).where(has_file).cte("claimed")
    return (
        update(_FILES)
        .where(_FILES.c.esp_report_id == claimed.c.id, _FILES.c.file_id == bindparam("d_file_id"))
        .values(details_json=bindparam("d_details"))
        .returning(_FILES.c.id)
    )


_DETAILS_ELEMENT = "fileDetails/reportId"


def _described(body: bytes) -> tuple[Any, dict[str, Any], EspError]:
    """A ``fileDetails`` document's mapping, the values that describe its file, and the
    error for a file its report does not have; a 4100/4110 error if it is not valid."""
    try:
        mapped = map_file_details(parse_document(body, "fileDetails"))
    except EspXmlError as error:
        raise EspError.of_document(error) from None
    described = {
        "d_file_id": mapped.file_id,
        "d_report_id": mapped.report_id,
        "d_details": json.dumps(mapped.__dict__),
    }
    no_file = EspError(
        ResponseCode.FILE_DOES_NOT_EXIST,
        f"fileDetails/fileId: no file {mapped.file_id!r} in report {mapped.report_id}",
        404,
    )
    return mapped, described, no_file


def file_details_plan(
    agency_id: int, body: bytes, settings: IntakeSettings
) -> Plan[tuple[int, str]]:
    """PostgreSQL: :func:`add_file_details` as a plan of one statement (run in autocommit)."""
    mapped, described, no_file = yield from compute(
        partial(_described, body), offload=len(body) > INLINE_BYTES
    )
    claim = _claim_parameters(agency_id, mapped.report_id, _DETAILS_ELEMENT, TOUCH, settings)
    if not (yield _pg("describe"), {**claim, **described}):
        refusal = yield from _pg_refusal(
            agency_id, mapped.report_id, _DETAILS_ELEMENT, claim["claim_now"]
        )
        raise refusal or no_file
    return mapped.report_id, mapped.file_id


def add_file_details(
    database: Database, agency_id: int, body: bytes, settings: IntakeSettings
) -> tuple[int, str]:
    """Record a ``fileDetails`` document; returns (report id, file id)."""
    if database.dialect == "postgresql":
        with database.autocommit.connect() as connection:
            return run_plan(file_details_plan(agency_id, body, settings), connection)
    mapped, described, no_file = _described(body)
    with database.engine.begin() as connection:
        _claim_open(connection, agency_id, mapped.report_id, _DETAILS_ELEMENT, TOUCH, settings)
        if not connection.execute(_DESCRIBE_FILE, described).rowcount:
            raise no_file
    return mapped.report_id, mapped.file_id


def _record(
    agency_id: int,
    esp_report_id: int,
    opened_at: datetime,
    fields: dict[str, Any],
    files: Sequence[Any],
    details: list[dict[str, Any] | None],
) -> ReportIn:
    """The Veille report of a finished submission: the report's fields and its files' details.

    A 4100 error naming the field when they do not make a valid report (more
    than 1,000 identifiers or files, say): ``submit`` checks the report's own
    fields this way, and ``finish`` the whole, so a report that could never
    be stored is refused instead of failing inside the server.
    """
    offences = set(fields["offence_types"])
    flags = set(fields["flags"])
    # Keyed by (kind, value, platform): merging is linear in the identifiers, and stops
    # at the first one over the limit instead of merging a million files' worth.
    identifiers = {_identifier_key(i): i for i in fields["identifiers"]}
    notes = [fields["summary"]] if fields.get("summary") else []
    for detail in details:
        if detail is None:
            continue
        offences.update(detail["offences"])
        flags.update(detail["flags"])
        for identifier in detail["identifiers"]:
            identifiers.setdefault(_identifier_key(identifier), identifier)
            if len(identifiers) > MAX_IDENTIFIERS:
                raise EspError(
                    ResponseCode.VALIDATION_FAILED,
                    f"report: identifiers: more than {MAX_IDENTIFIERS} with those of the files' "
                    f"fileDetails (file {detail.get('file_id')!r})",
                )
        notes.extend(detail["notes"])
    record = {
        **fields,
        "external_id": str(esp_report_id),
        "source": _source(agency_id),
        "channel": Channel.ESP_API,
        "reporter_kind": ReporterKind.ESP,
        "received_at": opened_at,
        "offence_types": sorted(offences),
        "flags": sorted(flags),
        "identifiers": list(identifiers.values()),
        "summary": "\n".join(notes)[:20_000] or None,
        "media": [
            {
                "file_name": (detail or {}).get("file_name") or f.file_name,
                "size_bytes": f.size_bytes,
                "media_type": f.media_type,
                "md5": f.md5,
                "sha1": f.sha1,
                "sha256": f.sha256,
            }
            for f, detail in zip(files, details, strict=True)
        ],
    }
    try:
        return ReportIn.model_validate(record)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()[:3]
        )
        raise EspError(ResponseCode.VALIDATION_FAILED, f"report: {problems}") from None


@lru_cache(maxsize=1)
def _pg_finish_statement() -> Any:
    """PostgreSQL: what ``finish`` writes after the report, in one statement.

    The files' details, the media worker's jobs and the report's media state
    (as :func:`~veille.intake.worker.enqueue_media` writes them), the link
    from the submission to the report, and the audit event.
    """
    details = (
        func.unnest(
            pg_array("md_media_ids", Integer),
            pg_array("md_file_ids"),
            pg_array("md_classifications"),
            pg_array("md_relevances"),
            pg_array("md_hashes"),
            pg_array("md_annotations"),
        )
        .table_valued(
            "media_item_id",
            "esp_file_id",
            "industry_classification",
            "file_relevance",
            "original_hashes_json",
            "annotations",
        )
        .render_derived()
    )
    report_id = bindparam("f_report_id", type_=Integer())
    now = bindparam("f_now", type_=UTCDateTime())
    add_details = insert(_MEDIA_DETAILS).from_select(list(details.c.keys()), select(*details.c))
    add_jobs, add_media_state = pg_enqueue_statements(report_id, now)
    link = (
        update(_REPORTS)
        .where(_REPORTS.c.id == bindparam("f_esp_report_id", type_=Integer()))
        .values(report_id=report_id)
    )
    audit = _audit_row(
        "esp.finish", "report", report_id, now, bindparam("f_detail", type_=String())
    )
    return (
        insert(_AUDIT)
        .from_select(_AUDIT_COLUMNS, audit)
        .add_cte(
            add_details.cte("add_details"),
            add_jobs.cte("add_jobs"),
            add_media_state.cte("add_media_state"),
            link.cte("link"),
        )
    )


def _media_details(
    files: Sequence[Any], details: list[dict[str, Any] | None]
) -> list[dict[str, Any]]:
    """The ``intake_media_detail`` values of each file (without its media item id)."""
    return [
        {
            "esp_file_id": f.file_id,
            "industry_classification": (detail or {}).get("industry_classification"),
            "file_relevance": (detail or {}).get("file_relevance"),
            "original_hashes_json": json.dumps((detail or {}).get("original_hashes") or []),
            "annotations": ",".join((detail or {}).get("annotations") or [])[:500] or None,
        }
        for f, detail in zip(files, details, strict=True)
    ]


def _identifier_key(identifier: dict[str, Any]) -> tuple[str, str, str]:
    """An identifier's (kind, value, platform), the same whether read back from JSON or not."""
    return (str(identifier["kind"]), identifier["value"], identifier.get("platform", ""))


def _finished(
    agency_id: int, esp_report_id: int, claimed: Any, files: Sequence[Any]
) -> tuple[Incoming, list[dict[str, Any]]]:
    """The Veille report of a claimed submission and the ``intake_media_detail`` values of
    its files (without their media item ids)."""
    payload = json.loads(claimed.record_json)
    details = [json.loads(f.details_json) if f.details_json else None for f in files]
    record = _record(agency_id, esp_report_id, claimed.opened_at, payload["fields"], files, details)
    incoming = Incoming(
        record,
        _source(agency_id),
        agency_id,
        extra_ips=tuple(payload["ips"]),
        provided_country=payload["provided_country"],
    )
    return incoming, _media_details(files, details)


def _finish_detail(esp_report_id: int, files: Sequence[Any]) -> str:
    return f"ESP report {esp_report_id}, {len(files)} file(s)"


def finish_plan(agency_id: int, esp_report_id: int, actor: str) -> Plan[Finished]:
    """PostgreSQL: :func:`finish_report` as a plan of five statements (run in a transaction).

    Claim and take stay two statements: an upload that commits while the
    claim waits for the report's row lock is then taken too.
    """
    claimed = yield from _pg_claim(agency_id, esp_report_id, "id", FINISH)
    taken = yield _pg("take_files"), {"t_report_id": esp_report_id}
    files = sorted(taken, key=lambda f: f.id)
    # A large report is validated and prepared in a worker thread, not on the event loop.
    size = len(claimed.record_json) + sum(len(f.details_json or "") for f in files)
    offload = size > INLINE_BYTES
    incoming, media_details = yield from compute(
        partial(_finished, agency_id, esp_report_id, claimed, files), offload=offload
    )
    stored = yield from pg_store_new_report(incoming, offload=offload)
    media_ids = stored.media_item_ids
    yield (
        _pg("finish"),
        {
            "f_esp_report_id": esp_report_id,
            "f_now": utcnow(),
            "audit_actor": actor,
            "audit_agency": agency_id,
            "f_report_id": stored.report_id,
            "f_detail": _finish_detail(esp_report_id, files),
            "md_media_ids": media_ids,
            **{
                f"md_{key}": [d[column] for d in media_details]
                for key, column in (
                    ("file_ids", "esp_file_id"),
                    ("classifications", "industry_classification"),
                    ("relevances", "file_relevance"),
                    ("hashes", "original_hashes_json"),
                    ("annotations", "annotations"),
                )
            },
            **pg_enqueue_parameters(
                [(m, f.spool_path) for f, m in zip(files, media_ids, strict=True)]
            ),
        },
    )
    return Finished(esp_report_id, stored.report_id, [f.file_id for f in files])


def finish_report(database: Database, agency_id: int, esp_report_id: int, actor: str) -> Finished:
    """Turn an open submission into a Veille report and queue its files for hashing.

    The submission's file rows are deleted: the media items, their details
    and the worker's jobs now hold what they said.
    """
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            return run_plan(finish_plan(agency_id, esp_report_id, actor), connection)
        claimed = _claim_open(connection, agency_id, esp_report_id, "id", FINISH)
        taken = connection.execute(_TAKE_FILES, {"t_report_id": esp_report_id}).all()
        files = sorted(taken, key=lambda f: f.id)
        incoming, media_details = _finished(agency_id, esp_report_id, claimed, files)
        stored = store_new_report(connection, incoming)
        if files:
            connection.execute(
                _INSERT_MEDIA_DETAILS,
                [
                    {"media_item_id": media_id, **values, "details_json": None}
                    for values, media_id in zip(media_details, stored.media_item_ids, strict=True)
                ],
            )
            enqueue_media(
                connection,
                stored.report_id,
                [(m, f.spool_path) for f, m in zip(files, stored.media_item_ids, strict=True)],
            )
        connection.execute(
            _LINK_REPORT, {"l_report_id": esp_report_id, "l_veille_id": stored.report_id}
        )
        _audit(
            connection,
            actor=actor,
            agency_id=agency_id,
            action="esp.finish",
            object_type="report",
            object_id=stored.report_id,
            detail=_finish_detail(esp_report_id, files),
        )
        return Finished(esp_report_id, stored.report_id, [f.file_id for f in files])


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
        update(_REPORTS)
        .where(_REPORTS.c.id == esp_report_id)
        .values(state=state, record_json="{}", changed_at=utcnow())
    )
    return paths


def retract_report(database: Database, agency_id: int, esp_report_id: int, actor: str) -> None:
    """Discard an open report and its files."""
    with database.engine.begin() as connection:
        _claim_open(connection, agency_id, esp_report_id, "id", RETRACT)
        paths = _discard(connection, esp_report_id, RETRACTED)
        _audit(
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
                update(_REPORTS)
                .where(
                    _REPORTS.c.id.in_(
                        select(_REPORTS.c.id)
                        .where(_REPORTS.c.state == OPEN, _REPORTS.c.expires_at <= now)
                        .limit(500)
                        .scalar_subquery()
                    ),
                    _REPORTS.c.state == OPEN,
                    _REPORTS.c.expires_at <= now,
                )
                .values(state=EXPIRED, changed_at=utcnow())
                .returning(_REPORTS.c.id)
            )
            .scalars()
            .all()
        )
        paths = [p for esp_id in expired for p in _discard(connection, esp_id, EXPIRED)]
    for path in paths:
        remove_quietly(path)
    return len(expired)
