"""The files of an open ESP submission: ``upload`` attaches one, ``fileinfo`` describes it.

The upload's body is already spooled to disk, with its MD5 and SHA hashes,
when these functions run (:mod:`veille.intake.uploads`); here its row is
added to the open report, whose claim counts it against
``esp_max_files_per_report``. On PostgreSQL each call is a single statement:
the claim and the write joined by a ``WITH`` clause, committed on its own.
"""

from __future__ import annotations

import json
import uuid
from functools import lru_cache, partial
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, insert, select, update

from veille.intake.esp.claims import (
    REPORTS,
    TOUCH,
    UPLOAD,
    claim_open,
    claim_parameters,
    claim_statement,
    pg_refusal,
    refused,
)
from veille.intake.esp.codes import ResponseCode
from veille.intake.esp.errors import EspError
from veille.intake.esp.mapping import map_file_details
from veille.intake.esp.parse import EspXmlError, parse_document
from veille.intake.models import EspFile
from veille.intake.settings import IntakeSettings
from veille.intake.uploads import SpooledFile, remove_quietly
from veille.store.db import Database
from veille.store.raw import INLINE_BYTES, PgStatement, Plan, compute, run_plan
from veille.store.types import utcnow

_FILES = cast(Table, EspFile.__table__)
_INSERT_FILE = insert(_FILES)
_DESCRIBE_FILE = (
    update(_FILES)
    .where(
        _FILES.c.file_id == bindparam("d_file_id"),
        _FILES.c.esp_report_id == bindparam("d_report_id"),
    )
    .values(details_json=bindparam("d_details"))
)


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
def _pg_upload_statement() -> PgStatement:
    """PostgreSQL: claim the open report and add the file in one statement."""
    claimed = claim_statement("postgresql", UPLOAD).cte("claimed")
    row = select(
        claimed.c.id, *(bindparam(name, type_=_FILES.c[name].type) for name in _FILE_COLUMNS)
    ).select_from(claimed)
    return PgStatement.of(
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
    claim = claim_parameters(agency_id, esp_report_id, "id", UPLOAD, settings)
    added = yield _pg_upload_statement(), {**claim, **_file_values(esp_report_id, spooled)}
    if not added:
        refusal = yield from pg_refusal(agency_id, esp_report_id, "id", claim["claim_now"])
        raise refused(refusal, "id", esp_report_id, UPLOAD, settings)
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
            claim_open(connection, agency_id, esp_report_id, "id", UPLOAD, settings)
            connection.execute(_INSERT_FILE, values)
            return str(values["file_id"])
    except BaseException:
        remove_quietly(spooled.path)
        raise


@lru_cache(maxsize=1)
def _pg_describe_statement() -> PgStatement:
    """PostgreSQL: claim the open report, if it has the file, and describe the file, at once."""
    has_file = exists().where(
        _FILES.c.esp_report_id == REPORTS.c.id, _FILES.c.file_id == bindparam("d_file_id")
    )
    claimed = claim_statement("postgresql", TOUCH).where(has_file).cte("claimed")
    return PgStatement.of(
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
    claim = claim_parameters(agency_id, mapped.report_id, _DETAILS_ELEMENT, TOUCH, settings)
    if not (yield _pg_describe_statement(), {**claim, **described}):
        refusal = yield from pg_refusal(
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
        claim_open(connection, agency_id, mapped.report_id, _DETAILS_ELEMENT, TOUCH, settings)
        if not connection.execute(_DESCRIBE_FILE, described).rowcount:
            raise no_file
    return mapped.report_id, mapped.file_id
