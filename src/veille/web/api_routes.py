"""``/api/v1``: the REST API for agencies and platforms (JSON, API keys, OpenAPI).

Writes go through :func:`veille.intake.store.store_reports` (the one report
writer, :mod:`veille.intake.report_writer`); reads go through :mod:`veille.store.reports`, so the visibility
filter and the audit log apply to every read.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from veille.flow import reports_stored
from veille.geo import CountryError, normalise_country
from veille.intake.channels import (
    ChannelInputError,
    InAppReport,
    receive_in_app_report,
    receive_sms,
)
from veille.intake.credentials import Principal, Scope
from veille.intake.readers import JsonLineError, load_json_line
from veille.intake.schema import CountryCode, ReportIn
from veille.intake.store import IdempotencyConflict, Incoming, store_reports, write_lock
from veille.intake.worker import enqueue_media, media_state
from veille.store.audit import record_event
from veille.store.models import Agency
from veille.store.reports import (
    ReportFilter,
    ReportNotFound,
    Viewer,
    get_report,
    list_reports,
    report_detail,
    report_summary,
)
from veille.store.types import MAX_ID, utcnow
from veille.vocab import AgencyKind, Channel, OffenceType, PlatformCategory, ReporterKind
from veille.web.api_models import (
    API_ERRORS,
    BulkResult,
    InAppReportIn,
    Receipt,
    ReportCreate,
    ReportList,
    ReportOut,
    SmsIn,
    SmsReceiptOut,
    problem_responses,
)
from veille.web.auth import principal_dependency
from veille.web.bodies import BadBody, BodyTooLarge, read_limited
from veille.web.params import refuse_repeated_scalars
from veille.web.state import app_state

router = APIRouter(
    prefix="/api/v1",
    tags=["reports"],
    responses=API_ERRORS,
    dependencies=[Depends(refuse_repeated_scalars)],
)

WriteKey = Annotated[Principal, principal_dependency(Scope.REPORTS_WRITE)]
ReadKey = Annotated[Principal, principal_dependency(Scope.REPORTS_READ)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Sending the same key again returns the same report instead of a new one.",
    ),
]

_REPORTER_OF_AGENCY = {
    AgencyKind.HOTLINE: ReporterKind.HOTLINE,
    AgencyKind.POLICE: ReporterKind.POLICE,
    AgencyKind.ESP: ReporterKind.ESP,
    AgencyKind.NGO: ReporterKind.NGO,
    AgencyKind.INTELLIGENCE: ReporterKind.POLICE,
}


def _problem(status: int, field: str, reason: str, line: int | None = None) -> HTTPException:
    return HTTPException(status, detail=[{"field": field, "reason": reason, "line": line}])


def _validation_problems(error: ValidationError, line: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in item["loc"]) or "(report)",
            "reason": item["msg"],
            "line": line,
        }
        for item in error.errors()
    ]


def _record(
    body: ReportCreate, principal: Principal, agency_kind: AgencyKind, external_id: str | None
) -> ReportIn:
    fields = body.model_dump(exclude_none=True)
    fields["identifiers"] = [i.model_dump() for i in body.identifiers]
    fields.update(
        external_id=external_id or body.external_id or uuid.uuid4().hex,
        source=f"api:{principal.agency_id}",
        channel=Channel.REST_API,
        reporter_kind=body.reporter_kind or _REPORTER_OF_AGENCY[agency_kind],
        received_at=utcnow(),
        owner_agency=None,
    )
    return ReportIn.model_validate(fields)


def _store_records_now(
    request: Request, principal: Principal, records: list[ReportIn]
) -> list[tuple[int, bool]]:
    database = app_state(request).database
    with database.session() as session:
        write_lock(session)
        stored = store_reports(
            session.connection(),
            [Incoming(record, record.source or "", principal.agency_id) for record in records],
        )
        for item in stored:
            if item.created and item.media_item_ids:
                enqueue_media(session, item.report_id, [(m, None) for m in item.media_item_ids])
            # As every channel does (intake.channels, the ESP API): one event per report
            # received, a replay included, committed with the report or not at all.
            record_event(
                session,
                actor=principal.actor,
                agency_id=principal.agency_id,
                action=f"report.receive.{Channel.REST_API.value}",
                object_type="report",
                object_id=item.report_id,
            )
    reports_stored(database, [item.report_id for item in stored if item.created])
    app_state(request).nudge_worker()
    return [(item.report_id, item.created) for item in stored]


def _store_records(
    request: Request, principal: Principal, records: list[ReportIn]
) -> list[tuple[int, bool]]:
    state = app_state(request)
    return state.serialised(lambda: _store_records_now(request, principal, records))


def _agency_kind(request: Request, principal: Principal) -> AgencyKind:
    with app_state(request).database.session() as session:
        agency = session.get(Agency, principal.agency_id)
        assert agency is not None
        return agency.kind


def _detail(request: Request, principal: Principal, report_id: int) -> ReportOut:
    viewer = Viewer(principal.actor, principal.agency_id)
    missing = None
    with app_state(request).database.session() as session:
        try:
            report = get_report(session, viewer, report_id)
            result = report_detail(report, media_state(session, report.id))
        except ReportNotFound as error:
            missing = str(error)
    if missing is not None:
        raise _problem(404, "report_id", missing)
    return result


@router.post(
    "/reports",
    status_code=201,
    response_model=ReportOut,
    responses={
        200: {"model": ReportOut, "description": "Replay of an Idempotency-Key."},
        **problem_responses(409),
    },
)
def create_report(
    body: ReportCreate,
    request: Request,
    response: Response,
    principal: WriteKey,
    idempotency_key: IdempotencyKey = None,
) -> ReportOut:
    """Create a report; media are given by their hashes (MD5, SHA-1, SHA-256, PDQ)."""
    try:
        record = _record(body, principal, _agency_kind(request, principal), idempotency_key)
    except ValidationError as error:
        raise HTTPException(422, detail=_validation_problems(error)) from None
    try:
        ((report_id, created),) = _store_records(request, principal, [record])
    except IdempotencyConflict as error:
        raise _problem(
            409, "Idempotency-Key" if idempotency_key else "external_id", str(error)
        ) from None
    if not created:
        response.status_code = 200
    return _detail(request, principal, report_id)


@router.post(
    "/reports/bulk",
    response_model=BulkResult,
    responses=problem_responses(409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "JSON Lines: one ReportCreate object per line (blank lines are "
            "skipped), described here as the array of those objects.",
            "content": {
                "application/x-ndjson": {
                    "schema": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/ReportCreate"},
                        "minItems": 1,
                    }
                }
            },
        }
    },
)
async def create_reports_bulk(request: Request, principal: WriteKey) -> BulkResult:
    """Create many reports from JSON Lines (one ReportCreate per line); all or nothing."""
    state = app_state(request)
    try:
        body = await read_limited(request, state.settings.max_json_bytes)
    except BodyTooLarge as error:
        raise _problem(413, "body", str(error)) from None
    except BadBody as error:
        raise _problem(400, error.field, error.reason) from None
    kind = await run_in_threadpool(_agency_kind, request, principal)
    records: list[ReportIn] = []
    problems: list[dict[str, Any]] = []
    for number, raw in enumerate(body.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            item = ReportCreate.model_validate(load_json_line(raw.decode("utf-8")))
            records.append(_record(item, principal, kind, None))
        except UnicodeDecodeError:
            problems.append({"field": "(line)", "reason": "not valid UTF-8", "line": number})
        except json.JSONDecodeError as error:
            problems.append(
                {"field": "(line)", "reason": f"malformed JSON: {error.msg}", "line": number}
            )
        except JsonLineError as error:
            # Nesting or a number out of bounds: refused before it reaches the validator.
            problems.append({"field": "(line)", "reason": str(error), "line": number})
        except ValidationError as error:
            problems.extend(_validation_problems(error, number))
        if len(problems) > 100:
            break
    if problems:
        return JSONResponse({"detail": problems[:100]}, status_code=422)  # type: ignore[return-value]
    if not records:
        raise _problem(422, "body", "no report lines")
    try:
        stored = await run_in_threadpool(_store_records, request, principal, records)
    except IdempotencyConflict as error:
        raise _problem(409, "external_id", str(error)) from None
    return BulkResult(
        created=sum(1 for _, created in stored if created),
        unchanged=sum(1 for _, created in stored if not created),
        report_ids=[report_id for report_id, _ in stored],
    )


@router.get("/reports", response_model=ReportList)
def list_reports_route(
    request: Request,
    principal: ReadKey,
    country: Annotated[
        list[CountryCode] | None,
        Query(description="Derived country, ISO 3166-1 code; repeatable."),
    ] = None,
    category: Annotated[list[PlatformCategory] | None, Query()] = None,
    offence: Annotated[list[OffenceType] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ReportList:
    """The reports your agency may see, newest first."""
    try:
        countries = [normalise_country(c) for c in country or []]
    except CountryError as error:
        raise _problem(422, "country", str(error)) from None
    viewer = Viewer(principal.actor, principal.agency_id)
    criteria = ReportFilter(countries=countries, categories=category or [], offences=offence or [])
    with app_state(request).database.session() as session:
        rows, total = list_reports(session, viewer, criteria, limit=limit, offset=offset)
        shown = [report_summary(r) for r in rows]
    return ReportList(total=total, reports=shown)


# `:int` routes only digits here: GET /reports/bulk is then a method /reports/bulk does not
# allow (405, Allow: POST), not a report id that fails validation.
@router.get("/reports/{report_id:int}", response_model=ReportOut, responses=problem_responses(404))
def get_report_route(
    report_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request, principal: ReadKey
) -> ReportOut:
    """One report, if your agency may see it (the read is audited)."""
    return _detail(request, principal, report_id)


@router.post(
    "/in-app-reports",
    status_code=201,
    response_model=Receipt,
    responses=problem_responses(409),
    tags=["channels"],
)
def in_app_report(body: InAppReportIn, request: Request, principal: WriteKey) -> Receipt:
    """A report from a platform's in-app "report" button, with the fewest fields a child can fill."""
    report = InAppReport(
        what_happened=body.what_happened,
        platform=body.platform,
        account_name=body.account_name,
        contact=body.contact,
        external_id=body.report_id,
        category=body.category,
        media=body.media,
    )
    try:
        stored = receive_in_app_report(
            app_state(request).database,
            report,
            principal.agency_id,
            f"in_app:{principal.agency_id}",
        )
    except ChannelInputError as error:
        raise _problem(422, error.field, error.reason) from None
    except IdempotencyConflict as error:
        raise _problem(409, "report_id", str(error)) from None
    app_state(request).nudge_worker()
    return Receipt(
        report_id=stored.report_id, reference=f"V-{stored.report_id}", created=stored.created
    )


@router.post(
    "/sms",
    status_code=201,
    response_model=SmsReceiptOut,
    responses=problem_responses(409),
    tags=["channels"],
)
def sms_webhook(body: SmsIn, request: Request, principal: WriteKey) -> SmsReceiptOut:
    """The SMS gateway webhook: stores the text and returns the acknowledgement to send back."""
    try:
        receipt = receive_sms(
            app_state(request).database,
            sender=body.sender,
            text=body.text,
            received_at=body.received_at,
            owner_id=principal.agency_id,
            gateway=str(principal.agency_id),
            message_id=body.message_id,
        )
    except ChannelInputError as error:
        raise _problem(422, error.field, error.reason) from None
    except IdempotencyConflict as error:
        raise _problem(409, "message_id", str(error)) from None
    return SmsReceiptOut(
        report_id=receipt.report_id,
        reference=f"V-{receipt.report_id}",
        created=receipt.created,
        sender_country=receipt.sender_country,
        reply=receipt.acknowledgement,
    )
