"""REST routes of take-down notices: agencies send and read them, providers confirm them.

Agencies authenticate with their API keys (:mod:`veille.core.api`).
Providers confirm with their own token in ``X-Provider-Token`` (made by
``veille takedown provider token``); a missing or wrong token is refused with
401 and written to the audit log, a notice sent to another provider is a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from veille.casework.errors import CaseworkError, Conflict, NotFound
from veille.casework.models import NoticeEventKind, NoticeState
from veille.casework.providers import NOTICE_URL_PATTERN
from veille.core.api import (
    DatabaseDep,
    ReaderDep,
    StorableText,
    WriterDep,
    not_found,
    problem,
    problem_responses,
)
from veille.core.params import MAX_ID, IsoTime, QueryText, RecordId
from veille.store.audit import record_event

PROVIDER_TOKEN_HEADER = "X-Provider-Token"
ProviderToken = Annotated[
    str | None,
    Header(alias=PROVIDER_TOKEN_HEADER, description="The provider's confirmation token (vt_...)."),
]


class NoticeIn(StorableText):
    """A notice to send: the URL, and what it comes from."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, pattern=NOTICE_URL_PATTERN)
    report_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    content_cluster: str | None = Field(default=None, min_length=1, max_length=64)
    provider: str | None = Field(
        default=None, min_length=1, max_length=200, description="Default: served by the host."
    )


class ConfirmationIn(StorableText):
    """When the provider acted (default now), and a note."""

    model_config = ConfigDict(extra="forbid")

    at: IsoTime | None = None
    note: str | None = Field(default=None, max_length=2000)


class NoticeEventOut(BaseModel):
    """One event of a notice."""

    kind: NoticeEventKind
    at: datetime
    actor: str
    channel: str | None
    detail: str | None


class NoticeOut(BaseModel):
    """A notice with its times (and its history, when read alone)."""

    id: int
    external_id: str | None
    sender_agency: str
    provider: str
    url: str
    host: str
    report_id: int | None
    report_external_id: str | None
    content_cluster: str | None
    state: NoticeState
    created_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    removed_at: datetime | None
    escalated_at: datetime | None
    notify_count: int
    hours_to_removal: float | None
    events: list[NoticeEventOut] | None = None


class ProviderConfirmation(BaseModel):
    """What a provider's confirmation recorded."""

    id: int
    state: NoticeState
    acknowledged_at: datetime | None
    removed_at: datetime | None


def _kind(action: str) -> NoticeEventKind:
    return NoticeEventKind.ACKNOWLEDGED if action == "acknowledge" else NoticeEventKind.REMOVED


def router() -> APIRouter:
    """The take-down routes."""
    routes = APIRouter(tags=["take-down"])

    @routes.post(
        "/takedown/notices",
        status_code=201,
        response_model=NoticeOut,
        summary="Create a take-down notice (the follow-up task sends it)",
        responses=problem_responses(404, 422),
    )
    def create(body: NoticeIn, database: DatabaseDep, viewer: WriterDep) -> dict[str, Any]:
        from veille.casework.notices import create_notice, notice_detail
        from veille.casework.tasks import request_follow_up

        failure: HTTPException | None = None
        with database.session() as session:
            try:
                notice = create_notice(
                    session,
                    viewer,
                    body.url,
                    report_id=body.report_id,
                    content_cluster=body.content_cluster,
                    provider=body.provider,
                    channel="api",
                )
                detail = notice_detail(session, notice)
            except NotFound as error:
                failure = not_found(str(error))
                session.rollback()
            except CaseworkError as error:
                failure = problem(422, error.field, error.reason)
                session.rollback()
        if failure is not None:
            raise failure
        request_follow_up(database)
        return detail

    @routes.get(
        "/takedown/notices",
        response_model=list[NoticeOut],
        summary="Notices your agency sent, oldest first",
    )
    def listing(
        database: DatabaseDep,
        viewer: ReaderDep,
        provider: QueryText | None = None,
        state: NoticeState | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> list[dict[str, Any]]:
        from veille.casework.notices import notice_rows

        with database.session() as session:
            rows = notice_rows(
                session, viewer, provider=provider, state=state, limit=limit, offset=offset
            )
        return [row.as_dict() for row in rows]

    @routes.get(
        "/takedown/notices/{takedown_id}",
        response_model=NoticeOut,
        summary="One notice with its history",
        responses=problem_responses(404),
    )
    def show(takedown_id: RecordId, database: DatabaseDep, viewer: ReaderDep) -> dict[str, Any]:
        from veille.casework.notices import get_notice, notice_detail

        with database.session() as session:
            try:
                return notice_detail(session, get_notice(session, viewer, takedown_id))
            except NotFound as error:
                missing = str(error)
        raise not_found(missing)

    def _analyst_confirms(
        action: str, notice_id: int, body: ConfirmationIn | None, database: Any, viewer: Any
    ) -> dict[str, Any]:
        from veille.casework.notices import confirm_by_analyst, notice_detail

        confirmation = body or ConfirmationIn()
        failure: HTTPException
        with database.session() as session:
            try:
                notice = confirm_by_analyst(
                    session,
                    viewer,
                    notice_id,
                    _kind(action),
                    at=confirmation.at,
                    note=confirmation.note,
                )
                return notice_detail(session, notice)
            except NotFound as error:
                failure = not_found(str(error))
            except Conflict as error:
                failure = problem(409, error.field, error.reason)
            except CaseworkError as error:
                failure = problem(422, error.field, error.reason)
            session.rollback()
        raise failure

    @routes.post(
        "/takedown/notices/{takedown_id}/acknowledged",
        response_model=NoticeOut,
        summary="Record the provider's acknowledgement (told by other means)",
        responses=problem_responses(404, 409),
    )
    def analyst_acknowledged(
        takedown_id: RecordId,
        database: DatabaseDep,
        viewer: WriterDep,
        body: Annotated[ConfirmationIn | None, Body()] = None,
    ) -> dict[str, Any]:
        return _analyst_confirms("acknowledge", takedown_id, body, database, viewer)

    @routes.post(
        "/takedown/notices/{takedown_id}/removed",
        response_model=NoticeOut,
        summary="Record that the content is gone (told by other means)",
        responses=problem_responses(404, 409),
    )
    def analyst_removed(
        takedown_id: RecordId,
        database: DatabaseDep,
        viewer: WriterDep,
        body: Annotated[ConfirmationIn | None, Body()] = None,
    ) -> dict[str, Any]:
        return _analyst_confirms("removed", takedown_id, body, database, viewer)

    def _provider_confirms(
        action: str,
        notice_id: int,
        token: str | None,
        body: ConfirmationIn | None,
        database: Any,
    ) -> dict[str, Any]:
        from veille.casework.notices import confirm_by_provider
        from veille.casework.providers import provider_by_token

        confirmation = body or ConfirmationIn()
        failure: HTTPException
        with database.session() as session:
            provider = provider_by_token(session, token) if token else None
            if provider is None:
                record_event(
                    session,
                    actor="provider:unknown",
                    action=f"takedown.provider_{action}",
                    object_type="takedown_notice",
                    object_id=notice_id,
                    detail="missing token" if not token else "unknown token",
                    success=False,
                )
                failure = HTTPException(
                    401,
                    detail=[{"field": PROVIDER_TOKEN_HEADER, "reason": "unknown or missing token"}],
                )
            else:
                try:
                    notice = confirm_by_provider(
                        session,
                        provider,
                        notice_id,
                        _kind(action),
                        at=confirmation.at,
                        note=confirmation.note,
                    )
                    return {
                        "id": notice.id,
                        "state": notice.state,
                        "acknowledged_at": notice.acknowledged_at,
                        "removed_at": notice.removed_at,
                    }
                except NotFound as error:
                    failure = not_found(str(error))
                except Conflict as error:
                    failure = problem(409, error.field, error.reason)
                except CaseworkError as error:
                    failure = problem(422, error.field, error.reason)
                session.rollback()
                record_event(
                    session,
                    actor=f"provider:{provider.name}",
                    action=f"takedown.provider_{action}",
                    object_type="takedown_notice",
                    object_id=notice_id,
                    detail=str(failure.detail),
                    success=False,
                )
        raise failure

    @routes.post(
        "/takedown/provider/notices/{takedown_id}/acknowledge",
        response_model=ProviderConfirmation,
        summary="A provider acknowledges a notice sent to it",
        responses=problem_responses(401, 404, 409, 422),
    )
    def provider_acknowledges(
        takedown_id: RecordId,
        database: DatabaseDep,
        token: ProviderToken = None,
        body: Annotated[ConfirmationIn | None, Body()] = None,
    ) -> dict[str, Any]:
        return _provider_confirms("acknowledge", takedown_id, token, body, database)

    @routes.post(
        "/takedown/provider/notices/{takedown_id}/removed",
        response_model=ProviderConfirmation,
        summary="A provider confirms it removed the content",
        responses=problem_responses(401, 404, 409, 422),
    )
    def provider_removed(
        takedown_id: RecordId,
        database: DatabaseDep,
        token: ProviderToken = None,
        body: Annotated[ConfirmationIn | None, Body()] = None,
    ) -> dict[str, Any]:
        return _provider_confirms("removed", takedown_id, token, body, database)

    return routes
