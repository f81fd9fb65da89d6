"""REST routes of the travel watch under ``/api/v1/travel``.

Notices are posted by agencies (scope ``reports:write``), alerts are read
(``reports:read``) and reviewed (``reports:write``) by the agency they are
addressed to; the watch list, matching and purging are administrative
(``admin``). Errors use the one shape of :mod:`veille.core.api`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from veille.casework.travel.lines import Day, LinesRefused, NoticeLine, WatchEntryLine
from veille.casework.travel.models import AlertState
from veille.core.api import (
    AdminDep,
    DatabaseDep,
    ReaderDep,
    StorableText,
    WriterDep,
    not_found,
    problem_responses,
)
from veille.core.params import RecordId
from veille.persons import DEFAULT_THRESHOLD

MAX_PER_REQUEST = 1000


class NoticesIn(StorableText):
    """Travel notices to store (at most 1,000 per request)."""

    model_config = ConfigDict(extra="forbid")

    notices: list[NoticeLine] = Field(min_length=1, max_length=MAX_PER_REQUEST)
    source: str | None = Field(default=None, max_length=200)


class NoticesStored(BaseModel):
    """What a post of notices stored."""

    imported: int
    unchanged: int


class WatchEntriesIn(StorableText):
    """Watch-list entries to store or update (at most 1,000 per request)."""

    model_config = ConfigDict(extra="forbid")

    entries: list[WatchEntryLine] = Field(min_length=1, max_length=MAX_PER_REQUEST)


class WatchEntriesStored(BaseModel):
    """What a post of watch-list entries did."""

    imported: int
    updated: int
    unchanged: int
    expired: int


class MatchIn(StorableText):
    """A matching run."""

    model_config = ConfigDict(extra="forbid")

    rematch: bool = False
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    as_of: Day | None = None


class MatchOut(BaseModel):
    """What a matching run did."""

    notices: int
    alerts: int
    watch_entries: int


class PurgeOut(BaseModel):
    """The expired entries purged."""

    purged: list[str]


class ReviewIn(StorableText):
    """A reviewer's note on a confirmation or dismissal."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=5000)


class AlertOut(BaseModel):
    """A travel alert with its notice and review."""

    id: int
    state: AlertState
    score: float
    watch_id: str
    notice_id: str
    traveller: str
    date_of_birth: str | None
    departure_country: str
    destination_country: str
    departure_at: datetime
    agency_id: int | None
    matched_fields: dict[str, float]
    notes: list[str]
    created_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None


def _refused(error: LinesRefused, prefix: str) -> HTTPException:
    # The lines were valid (pydantic checked them): what is left is an agency that does not
    # exist (404) or an id repeated in the body or stored with other content (409).
    detail = [
        {"field": f"{prefix}.{p.line - 1}.{p.field}", "reason": p.reason} for p in error.problems
    ]
    unknown_agency = all(p.field == "issuing_agency" for p in error.problems)
    return HTTPException(404 if unknown_agency else 409, detail=detail)


def router() -> APIRouter:
    """The travel-watch routes."""
    routes = APIRouter(tags=["travel"])

    @routes.post(
        "/travel/notices",
        response_model=NoticesStored,
        status_code=201,
        summary="Store travel notices (all or nothing)",
        responses=problem_responses(409),
    )
    def post_notices(body: NoticesIn, database: DatabaseDep, viewer: WriterDep) -> dict[str, Any]:
        from veille.casework.travel.notices import store_notices
        from veille.store.audit import record_event

        lines = [(number, line) for number, line in enumerate(body.notices, start=1)]
        failure: HTTPException | None = None
        try:
            with database.session() as session:
                summary = store_notices(session, lines, body.source or f"api:{viewer.agency_id}")
                record_event(
                    session,
                    actor=viewer.actor,
                    agency_id=viewer.agency_id,
                    action="travel.notices.post",
                    object_type="travel_notice",
                    detail=f"{summary.imported} imported, {summary.unchanged} unchanged",
                )
        except LinesRefused as error:
            failure = _refused(error, "body.notices")
        if failure is not None:
            raise failure
        return asdict(summary)

    @routes.post(
        "/travel/watch-list",
        response_model=WatchEntriesStored,
        summary="Store or update watch-list entries (all or nothing)",
        responses=problem_responses(404, 409),
    )
    def post_watch_entries(
        body: WatchEntriesIn, database: DatabaseDep, viewer: AdminDep
    ) -> dict[str, Any]:
        from veille.casework.travel.watchlist import store_watch_entries

        lines = [(number, line) for number, line in enumerate(body.entries, start=1)]
        failure: HTTPException | None = None
        try:
            with database.session() as session:
                summary = store_watch_entries(session, lines, viewer)
        except LinesRefused as error:
            failure = _refused(error, "body.entries")
        if failure is not None:
            raise failure
        return asdict(summary)

    @routes.post(
        "/travel/match",
        response_model=MatchOut,
        summary="Match notices not matched yet (or all) against the live watch list",
    )
    def post_match(body: MatchIn, database: DatabaseDep, viewer: AdminDep) -> dict[str, Any]:
        from veille.casework.travel.notices import match_notices

        summary = match_notices(
            database, viewer, rematch=body.rematch, threshold=body.threshold, as_of=body.as_of
        )
        return asdict(summary)

    @routes.post(
        "/travel/watch-list/purge",
        response_model=PurgeOut,
        summary="Delete the expired watch-list entries now (audited)",
    )
    def post_purge(
        database: DatabaseDep,
        viewer: AdminDep,
        as_of: Annotated[
            Day | None, Query(description="The day that decides expiry (default today).")
        ] = None,
    ) -> dict[str, Any]:
        from veille.casework.travel.watchlist import purge_expired

        return {"purged": purge_expired(database, viewer.actor, as_of)}

    @routes.get(
        "/travel/alerts",
        response_model=list[AlertOut],
        summary="Travel alerts addressed to your agency, open ones first",
    )
    def get_alerts(
        database: DatabaseDep,
        viewer: ReaderDep,
        state: AlertState | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        from veille.casework.travel.alerts import list_alerts

        with database.session() as session:
            return [asdict(a) for a in list_alerts(session, viewer, state=state, limit=limit)]

    @routes.get(
        "/travel/alerts/{alert_id}",
        response_model=AlertOut,
        summary="One travel alert",
        responses=problem_responses(404),
    )
    def get_alert(alert_id: RecordId, database: DatabaseDep, viewer: ReaderDep) -> dict[str, Any]:
        from veille.casework.travel.alerts import AlertNotFound
        from veille.casework.travel.alerts import get_alert as read_alert

        missing = ""
        with database.session() as session:
            try:
                return asdict(read_alert(session, viewer, alert_id))
            except AlertNotFound as error:
                missing = str(error)
        raise not_found(missing)

    def review(
        alert_id: int, decision: AlertState, body: ReviewIn, database: Any, viewer: Any
    ) -> dict[str, Any]:
        from veille.casework.travel.alerts import AlertNotFound, review_alert

        try:
            return asdict(review_alert(database, viewer, alert_id, decision, body.note))
        except AlertNotFound as error:
            raise not_found(str(error)) from None

    @routes.post(
        "/travel/alerts/{alert_id}/confirm",
        response_model=AlertOut,
        summary="Confirm an alert: the traveller is the watch-listed person",
        responses=problem_responses(404),
    )
    def confirm(
        alert_id: RecordId, body: ReviewIn, database: DatabaseDep, viewer: WriterDep
    ) -> dict[str, Any]:
        return review(alert_id, AlertState.CONFIRMED, body, database, viewer)

    @routes.post(
        "/travel/alerts/{alert_id}/dismiss",
        response_model=AlertOut,
        summary="Dismiss an alert: the traveller is someone else",
        responses=problem_responses(404),
    )
    def dismiss(
        alert_id: RecordId, body: ReviewIn, database: DatabaseDep, viewer: WriterDep
    ) -> dict[str, Any]:
        return review(alert_id, AlertState.DISMISSED, body, database, viewer)

    return routes
