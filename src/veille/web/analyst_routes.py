"""The analysts' pages under ``/app``: log-in, dashboard, queue, report, case, audit trail.

Server-rendered, no script: every page works without JavaScript, and the
Content-Security-Policy allows none. Every read goes through the library's
visibility rules as the signed-in user acting for their agency
(:class:`veille.store.reports.Viewer`), so a page shows exactly what that
agency may see; reports and queues are read through the functions that audit
them, and every change is an audit event. The media itself is never shown:
only its hashes and what they matched.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from veille.accounts.models import UserAccount
from veille.accounts.service import (
    AccountError,
    AuditFilter,
    LoginOutcome,
    audit_actions,
    audit_events,
    authenticate,
    change_password,
    close_session,
    open_session,
)
from veille.store.audit import record_event
from veille.store.models import Agency
from veille.store.reports import ReportNotFound, get_report, report_detail, share_report
from veille.triage.models import Outcome, QueueState, TriageScore
from veille.triage.policy import BANDS
from veille.triage.queue import OPEN_STATES, QueueError, QueueItemNotFound, change_state, queue_for
from veille.web.bodies import BadBody, BodyTooLarge
from veille.web.page_kit import (
    audit_refusal,
    error_page,
    first,
    in_thread,
    pages,
    posted_form,
    read_form,
)
from veille.web.protection import FormGuards
from veille.web.signin import (
    APP_PREFIX,
    AUDIT_READERS,
    SESSION_COOKIE,
    WORKERS,
    SignedIn,
    account_settings,
    safe_next,
    secure_cookie,
    signed_in,
)

router = APIRouter(prefix=APP_PREFIX, include_in_schema=False)
LOGIN_CSRF_COOKIE = "veille_login_csrf"
PAGE_SIZE = 50
STATE_FILTERS = {
    "open": OPEN_STATES,
    "new": (QueueState.NEW,),
    "assigned": (QueueState.ASSIGNED,),
    "in_progress": (QueueState.IN_PROGRESS,),
    "closed": (QueueState.CLOSED,),
    "referred": (QueueState.REFERRED,),
}


# -- log-in and log-out ------------------------------------------------------------------


def _login_page(
    request: Request, *, status: int = 200, problem: str | None = None, username: str = ""
) -> Response:
    guards: FormGuards = request.app.state.form_guards
    csrf, _ = guards.load()
    token, nonce = csrf.issue()
    response = pages.render(
        request,
        "app/login.html",
        {
            "token": token,
            "next": safe_next(request.query_params.get("next")),
            "problem": problem,
            "username": username,
            "lockout_minutes": account_settings(request).login_lockout_minutes,
        },
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        max_age=7200,
        secure=secure_cookie(request),
    )
    return response


@router.get("/login")
def loginread_form(request: Request) -> Response:
    """The log-in page."""
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the name, password and code; open a session and go to the page asked for."""
    try:
        fields = await read_form(request)
    except (BadBody, BodyTooLarge) as error:
        return _login_page(request, status=error.http_status, problem="form")
    guards: FormGuards = request.app.state.form_guards
    csrf, _ = guards.load()
    if not csrf.check(first(fields, "csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(request, status=403, problem="expired")
    username = first(fields, "username")[:64]
    settings = account_settings(request)

    def work(session: Session) -> tuple[LoginOutcome, str | None]:
        result = authenticate(
            session,
            username,
            first(fields, "password"),
            first(fields, "totp") or None,
            settings=settings,
        )
        if result.user is None:
            return result.outcome, None
        token, _ = open_session(session, result.user, settings=settings)
        return result.outcome, token

    outcome, token = await in_thread(request, work)
    if token is None:
        status = {LoginOutcome.LOCKED: 429, LoginOutcome.SECOND_FACTOR_NEEDED: 403}.get(
            outcome, 401
        )
        return _login_page(request, status=status, problem=outcome.value, username=username)
    target = safe_next(first(fields, "next"))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """End the session."""
    fields = await posted_form(request, who, action="user.logout")
    if isinstance(fields, Response):
        return fields

    def work(session: Session) -> None:
        close_session(session, who.token)
        record_event(
            session,
            actor=who.username,
            agency_id=who.agency_id,
            action="user.logout",
            object_type="user",
            object_id=who.user_id,
        )

    await in_thread(request, work)
    response = RedirectResponse(f"{APP_PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/password")
def passwordread_form(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """Choose a new password (required after a temporary one)."""
    return pages.render(request, "app/password.html", {"problem": None}, who=who)


@router.post("/account/password")
async def password_change(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """Change one's own password."""
    fields = await posted_form(request, who, action="user.password")
    if isinstance(fields, Response):
        return fields
    new, again = first(fields, "new_password"), first(fields, "new_password_again")
    if new != again:
        return pages.render(
            request,
            "app/password.html",
            {"problem": "new_password_again: the two new passwords differ"},
            status=422,
            who=who,
        )

    def work(session: Session) -> str | None:
        user = session.get(UserAccount, who.user_id)
        assert user is not None
        try:
            change_password(session, user, first(fields, "current_password"), new)
        except AccountError as error:
            session.rollback()
            return str(error)
        return None

    problem = await in_thread(request, work)
    if problem is not None:
        return pages.render(request, "app/password.html", {"problem": problem}, status=422, who=who)
    return RedirectResponse(APP_PREFIX, status_code=303)


# -- dashboard and queue -------------------------------------------------------------------


@router.get("")
async def dashboard(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """Queue counts by band, what is due, what today's capacity will not reach, new alerts."""
    from veille.linking.deconfliction import list_alerts

    def work(session: Session) -> dict[str, Any]:
        view = queue_for(session, who.agency_id, who.username, limit=10)
        alerts = list_alerts(session, who.agency_id)[:10]
        return {"view": view, "alerts": alerts, "bands": BANDS}

    return pages.render(request, "app/dashboard.html", await in_thread(request, work), who=who)


async def _queue_context(request: Request, who: SignedIn) -> dict[str, Any] | Response:
    """The queue as the query asks for it, or the error page for a bad query."""
    query = request.query_params
    state_name = query.get("state", "open")
    if state_name not in STATE_FILTERS:
        return error_page(request, who, 422, f"state: expected one of {', '.join(STATE_FILTERS)}")
    band = query.get("band") or None
    if band is not None and band not in BANDS:
        return error_page(request, who, 422, f"band: expected one of {', '.join(BANDS)}")
    order = query.get("order", "queue")
    page_text = query.get("page", "1")
    if not page_text.isdecimal() or not 1 <= int(page_text) <= 100_000:
        return error_page(request, who, 422, "page: expected a page number")
    page = int(page_text)
    mine = query.get("mine") == "1"
    poll_text = query.get("poll", "15")
    if not poll_text.isdecimal() or not 1 <= int(poll_text) <= 300:
        return error_page(request, who, 422, "poll: expected seconds between 1 and 300")

    def work(session: Session) -> dict[str, Any]:
        view = queue_for(
            session,
            who.agency_id,
            who.username,
            states=STATE_FILTERS[state_name],
            assignee=who.username if mine else None,
            bands=(band,) if band else None,
            order=order,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        return {"view": view}

    try:
        context = await in_thread(request, work)
    except QueueError as error:
        return error_page(request, who, 422, str(error))
    view = context["view"]
    shown_total = view.open_total if state_name == "open" and not band else None
    context.update(
        state=state_name,
        band=band,
        order=order,
        page=page,
        mine=mine,
        states=list(STATE_FILTERS),
        bands=BANDS,
        outcomes=[o.value for o in Outcome],
        pages=None if shown_total is None else max(1, math.ceil(shown_total / PAGE_SIZE)),
        can_work=who.may(WORKERS),
        notice=query.get("done"),
        poll=int(poll_text),
    )
    return context


@router.get("/queue")
async def queue_page(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """The agency's queue, filtered and sorted, with the actions the role allows.

    Without JavaScript it is a plain page; with it, ``/static/queue.js``
    refreshes the rows from ``/app/queue/rows`` every 15 seconds (``?poll=N``
    for N seconds), so a report that arrives through any channel appears
    without a reload.
    """
    context = await _queue_context(request, who)
    if isinstance(context, Response):
        return context
    return pages.render(request, "app/queue.html", context, who=who, scripted=True)


@router.get("/queue/rows")
async def queue_rows(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """The rows of the queue page alone (what the queue's script polls); each poll is audited."""
    context = await _queue_context(request, who)
    if isinstance(context, Response):
        return context
    response = pages.render(request, "app/queue_rows.html", context, who=who)
    response.headers["X-Queue-Open"] = str(context["view"].open_total)
    return response


_ACTIONS = {
    "assign_me": QueueState.ASSIGNED,
    "start": QueueState.IN_PROGRESS,
    "release": QueueState.NEW,
    "close": QueueState.CLOSED,
}


@router.post("/queue")
async def queue_action(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """Move one or several reports of the queue (the same action for each, all or nothing)."""
    fields = await posted_form(request, who, action="triage.queue.change", roles=WORKERS)
    if isinstance(fields, Response):
        return fields
    action = first(fields, "action")
    if action not in _ACTIONS:
        return error_page(request, who, 422, f"action: expected one of {', '.join(_ACTIONS)}")
    ids: list[int] = []
    for value in fields.get("report_id", [])[:PAGE_SIZE]:
        if not value.isdecimal() or len(value) > 10:
            return error_page(request, who, 422, "report_id: expected report numbers")
        ids.append(int(value))
    if not ids:
        return error_page(request, who, 422, "report_id: choose at least one report")
    outcome_text = first(fields, "outcome")
    outcome = None
    if action == "close":
        try:
            outcome = Outcome(outcome_text)
        except ValueError:
            choices = ", ".join(o.value for o in Outcome)
            return error_page(request, who, 422, f"outcome: required to close (one of {choices})")

    def work(session: Session) -> str | None:
        for report_id in ids:
            try:
                change_state(
                    session,
                    who.agency_id,
                    report_id,
                    _ACTIONS[action],
                    who.username,
                    assignee=who.username if action in ("assign_me", "start") else None,
                    outcome=outcome,
                )
            except (QueueError, QueueItemNotFound) as error:
                session.rollback()
                return str(error)
        return None

    problem = await in_thread(request, work)
    if problem is not None:
        return error_page(request, who, 422, problem)
    back = safe_next(first(fields, "back") or f"{APP_PREFIX}/queue")
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}done={len(ids)}", status_code=303)


# -- report and case -----------------------------------------------------------------------


def _report_context(session: Session, who: SignedIn, report_id: int) -> dict[str, Any] | None:
    from veille.casework.notices import notice_rows
    from veille.intake.worker import media_state
    from veille.linking.clusters import cluster_as_seen_by
    from veille.media.clusters import content_clusters_by_report
    from veille.store.audit import events_for
    from veille.triage.referral import list_referrals

    try:
        report = get_report(session, who.viewer, report_id)
    except ReportNotFound:
        return None  # the refused read is audited: this transaction commits
    detail = report_detail(report, media_state(session, report.id))
    score = session.get(TriageScore, report_id)
    cluster = cluster_as_seen_by(session, who.viewer, report_id)
    agencies = list(
        session.execute(
            select(Agency.id, Agency.name)
            .where(Agency.id != report.owner_agency_id)
            .order_by(Agency.name)
        )
    )
    referrals = list_referrals(session, who.agency_id, report_id=report_id)
    trail = events_for(session, "report", report_id)[-50:]
    notices = notice_rows(session, who.viewer, report_id=report_id, limit=100)
    content = sorted(content_clusters_by_report(session, [report_id]).get(report_id, set()))
    return {
        "notices": notices,
        "content_clusters": content,
        "report": detail,
        "score": score,
        "cluster": cluster,
        "matches": _matches(session, report_id),
        "agencies": agencies,
        "may_share": report.owner_agency_id == who.agency_id
        and report.marking.value != "red"
        and who.may(WORKERS),
        "referrals": referrals,
        "trail": trail,
    }


def _matches(session: Session, report_id: int) -> list[dict[str, Any]]:
    """What each of the report's media matched: list, category, series, distance."""
    from veille.media.models import HashList, KnownItem, MediaMatch
    from veille.store.models import MediaItem

    rows = session.execute(
        select(
            MediaItem.id,
            MediaItem.file_name,
            HashList.name,
            KnownItem.category,
            KnownItem.series,
            MediaMatch.signal_type,
            MediaMatch.distance_bits,
        )
        .join(MediaMatch, MediaMatch.media_item_id == MediaItem.id)
        .join(KnownItem, KnownItem.id == MediaMatch.known_item_id)
        .join(HashList, HashList.id == KnownItem.list_id)
        .where(MediaItem.report_id == report_id)
        .order_by(MediaItem.id, MediaMatch.distance_bits)
        .limit(200)
    )
    return [
        {
            "media_id": media_id,
            "file_name": file_name,
            "list": list_name,
            "category": category,
            "series": series,
            "signal": signal,
            "distance": distance,
        }
        for media_id, file_name, list_name, category, series, signal, distance in rows
    ]


@router.get("/reports/{report_id}")
async def report_page(
    request: Request, report_id: str, who: SignedIn = Depends(signed_in)
) -> Response:
    """One report: fields, identifiers, hashes and matches, case, score and reasons, trail."""
    if not report_id.isdecimal() or len(report_id) > 10:
        return error_page(request, who, 404, "report")
    context = await in_thread(request, lambda s: _report_context(s, who, int(report_id)))
    if context is None:
        # A report of another agency is "not found" too (the attempt is audited).
        return error_page(request, who, 404, "report")
    context["notice"] = request.query_params.get("done")
    return pages.render(request, "app/report.html", context, who=who)


@router.post("/reports/{report_id}/share")
async def report_share(
    request: Request, report_id: str, who: SignedIn = Depends(signed_in)
) -> Response:
    """Share a report with another agency (owner only, never a red one): recorded."""
    fields = await posted_form(request, who, action="report.share", roles=WORKERS)
    if isinstance(fields, Response):
        return fields
    agency_text = first(fields, "agency_id")
    if not report_id.isdecimal() or not agency_text.isdecimal() or len(agency_text) > 10:
        return error_page(request, who, 422, "agency_id: choose an agency")

    def work(session: Session) -> str | None:
        if session.get(Agency, int(agency_text)) is None:
            return "agency_id: no such agency"
        try:
            share_report(session, who.viewer, int(report_id), int(agency_text))
        except ReportNotFound:
            return "report: not found"
        except PermissionError as error:
            session.rollback()
            record_event(
                session,
                actor=who.username,
                agency_id=who.agency_id,
                action="report.share",
                object_type="report",
                object_id=report_id,
                detail=str(error),
                success=False,
            )
            return str(error)
        from veille.triage.referral import rescore_after_share

        rescore_after_share(session, int(report_id))
        return None

    problem = await in_thread(request, work)
    if problem is not None:
        return error_page(
            request, who, 403 if "share" in problem or "RED" in problem else 422, problem
        )
    return RedirectResponse(f"{APP_PREFIX}/reports/{report_id}?done=shared", status_code=303)


@router.get("/cases/{public_id}")
async def case_page(
    request: Request, public_id: str, who: SignedIn = Depends(signed_in)
) -> Response:
    """A case cluster as the agency may see it: reports, evidence, candidates, alerts."""
    from veille.linking.clusters import ClusterNotFound, show_cluster
    from veille.linking.deconfliction import list_alerts

    if len(public_id) > 40:
        return error_page(request, who, 404, "case")

    def work(session: Session) -> dict[str, Any] | None:
        try:
            shown = show_cluster(session, who.viewer, public_id)
        except ClusterNotFound:
            return None  # the refused read is audited: this transaction commits
        alerts = [
            a
            for a in list_alerts(session, who.agency_id, include_acknowledged=True)
            if a.cluster_id == public_id
        ]
        agencies = list(
            session.execute(
                select(Agency.id, Agency.name)
                .where(Agency.id != who.agency_id)
                .order_by(Agency.name)
            )
        )
        owns = any(r["owner"] == who.agency_name for r in shown["reports"])
        return {"case": shown, "alerts": alerts, "agencies": agencies, "may_share": owns}

    context = await in_thread(request, work)
    if context is None:
        return error_page(request, who, 404, "case")
    context["may_share"] = context["may_share"] and who.may(WORKERS)
    context["shared"] = request.query_params.get("shared")
    return pages.render(request, "app/case.html", context, who=who)


@router.post("/cases/{public_id}/share")
async def case_share(
    request: Request, public_id: str, who: SignedIn = Depends(signed_in)
) -> Response:
    """Share every report of the case that the agency owns (never a red one): recorded."""
    from veille.linking.clusters import owned_cluster_members
    from veille.triage.referral import rescore_after_share

    fields = await posted_form(request, who, action="cluster.share", roles=WORKERS)
    if isinstance(fields, Response):
        return fields
    agency_text = first(fields, "agency_id")
    if len(public_id) > 40 or not agency_text.isdecimal() or len(agency_text) > 10:
        return error_page(request, who, 422, "agency_id: choose an agency")

    def work(session: Session) -> int | None:
        target = session.get(Agency, int(agency_text))
        if target is None or target.id == who.agency_id:
            return None
        own = owned_cluster_members(session, public_id, who.agency_id)
        shared = 0
        for report_id in own:
            try:
                share_report(session, who.viewer, report_id, target.id)
            except PermissionError:
                continue  # a red report never leaves its owner
            rescore_after_share(session, report_id)
            shared += 1
        record_event(
            session,
            actor=who.username,
            agency_id=who.agency_id,
            action="cluster.share",
            object_type="case_cluster",
            object_id=public_id,
            detail=f"{shared} of {len(own)} owned reports shared with {target.name}",
            success=bool(own),
        )
        return shared if own else None

    shared = await in_thread(request, work)
    if shared is None:
        return error_page(request, who, 404, "case")
    return RedirectResponse(f"{APP_PREFIX}/cases/{public_id}?shared={shared}", status_code=303)


# -- audit trail ----------------------------------------------------------------------------


@router.get("/audit")
async def audit_page(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """The agency's audit events (supervisors, administrators, auditors), newest first."""
    if not who.may(AUDIT_READERS):
        await run_in_threadpool(audit_refusal, request, who, "audit.read", "role may not read")
        return error_page(request, who, 403, "role")
    action = (request.query_params.get("action") or "")[:64]
    actor = (request.query_params.get("actor") or "")[:64]

    def work(session: Session) -> dict[str, Any]:
        criteria = AuditFilter(agency_id=who.agency_id, action=action, actor=actor)
        events = audit_events(session, criteria)
        actions = audit_actions(session, who.agency_id)
        record_event(
            session,
            actor=who.username,
            agency_id=who.agency_id,
            action="audit.read",
            object_type="audit",
            detail=f"action={action or '*'} actor={actor or '*'}",
        )
        return {"events": events, "actions": actions, "action": action, "actor": actor}

    return pages.render(request, "app/audit.html", await in_thread(request, work), who=who)
