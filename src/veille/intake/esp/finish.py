"""Finishing an ESP submission: it becomes a Veille report and its files go to the media worker.

A finished report cannot change. ``finish`` claims the open submission,
takes its file rows, stores the report (:mod:`veille.intake.store`), and
writes the files' details, the media worker's jobs, the link from the
submission to the report and the audit event. On SQLite that is one
transaction of a few SQLAlchemy Core statements; on PostgreSQL, where every
statement is a round trip to the server, a transaction of five statements.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, cast

from sqlalchemy import Integer, String, Table, bindparam, delete, func, insert, select, update

from veille.intake.esp.audit import AUDIT, AUDIT_COLUMNS, audit, audit_row
from veille.intake.esp.claims import FINISH, REPORTS, claim_open, pg_claim
from veille.intake.esp.record import source, submission_record
from veille.intake.media_jobs import enqueue_media, pg_enqueue_parameters, pg_enqueue_statements
from veille.intake.models import EspFile, MediaDetail
from veille.intake.store import Incoming, pg_store_new_report, store_new_report
from veille.store.db import Database
from veille.store.raw import INLINE_BYTES, PgStatement, Plan, compute, pg_array, run_plan
from veille.store.types import UTCDateTime, utcnow

_FILES = cast(Table, EspFile.__table__)
_MEDIA_DETAILS = cast(Table, MediaDetail.__table__)
_INSERT_MEDIA_DETAILS = insert(_MEDIA_DETAILS)
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
    update(REPORTS)
    .where(REPORTS.c.id == bindparam("l_report_id"))
    .values(report_id=bindparam("l_veille_id"))
)


@dataclass(frozen=True)
class Finished:
    """The answer to ``finish``: the report id and its file ids."""

    esp_report_id: int
    report_id: int
    file_ids: list[str]


@lru_cache(maxsize=1)
def _pg_take_files() -> PgStatement:
    return PgStatement.of(_TAKE_FILES)


@lru_cache(maxsize=1)
def _pg_finish_statement() -> PgStatement:
    """PostgreSQL: what ``finish`` writes after the report, in one statement.

    The files' details, the media worker's jobs and the report's media state
    (as :func:`~veille.intake.media_jobs.enqueue_media` writes them), the link
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
        update(REPORTS)
        .where(REPORTS.c.id == bindparam("f_esp_report_id", type_=Integer()))
        .values(report_id=report_id)
    )
    row = audit_row("esp.finish", "report", report_id, now, bindparam("f_detail", type_=String()))
    return PgStatement.of(
        insert(AUDIT)
        .from_select(AUDIT_COLUMNS, row)
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


def _finished(
    agency_id: int, esp_report_id: int, claimed: Any, files: Sequence[Any]
) -> tuple[Incoming, list[dict[str, Any]]]:
    """The Veille report of a claimed submission and the ``intake_media_detail`` values of
    its files (without their media item ids)."""
    payload = json.loads(claimed.record_json)
    details = [json.loads(f.details_json) if f.details_json else None for f in files]
    record = submission_record(
        agency_id, esp_report_id, claimed.opened_at, payload["fields"], files, details
    )
    incoming = Incoming(
        record,
        source(agency_id),
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
    claimed = yield from pg_claim(agency_id, esp_report_id, "id", FINISH)
    taken = yield _pg_take_files(), {"t_report_id": esp_report_id}
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
        _pg_finish_statement(),
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
        claimed = claim_open(connection, agency_id, esp_report_id, "id", FINISH)
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
        audit(
            connection,
            actor=actor,
            agency_id=agency_id,
            action="esp.finish",
            object_type="report",
            object_id=stored.report_id,
            detail=_finish_detail(esp_report_id, files),
        )
        return Finished(esp_report_id, stored.report_id, [f.file_id for f in files])
