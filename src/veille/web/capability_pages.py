"""The capabilities' pages for analysts: trends, hash lists, take-downs, travel alerts,
questionnaires and school incidents (``/app/trends``, ``/app/lists``, ...).

Each page reads through its capability's library as the signed-in user's
agency: trend counts include only the reports the agency may see (the
marking of what was counted is shown), take-down notices and travel alerts
are the agency's own. The trends chart is drawn on the server (matplotlib,
PNG) and its numbers are also given as a table.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from veille.store.audit import record_event
from veille.store.models import Agency
from veille.web.page_kit import (
    error_page,
    first,
    in_thread,
    pages,
    posted_form,
)
from veille.web.signin import APP_PREFIX, PAGE_HEADERS, WORKERS, SignedIn, signed_in

router = APIRouter(prefix=APP_PREFIX, include_in_schema=False)
TREND_DIMENSIONS = ("category", "country", "channel", "reporter", "offence", "flag")
MAX_TREND_PERIODS = 200
"""A page draws at most this many periods (about four years of weeks)."""


def _audit_read(session: Session, who: SignedIn, action: str, detail: str | None = None) -> None:
    record_event(
        session,
        actor=who.username,
        agency_id=who.agency_id,
        action=action,
        object_type="page",
        detail=detail,
    )


# -- trends ------------------------------------------------------------------------------


def _trend_query(request: Request) -> tuple[Any, dict[str, Any]] | str:
    """The series query the page's filters ask for, or the problem naming the field."""
    from veille.analytics.series import SeriesError, query_from_filters

    params = request.query_params
    interval = params.get("interval", "month")
    by = params.get("by", "category")
    if by not in (*TREND_DIMENSIONS, ""):
        return f"by: one of {', '.join(TREND_DIMENSIONS)}"
    dates: dict[str, date | None] = {}
    for name in ("since", "until"):
        text = params.get(name) or ""
        try:
            dates[name] = date.fromisoformat(text) if text else None
        except ValueError:
            return f"{name}: expected a date (YYYY-MM-DD)"
    country = (params.get("country") or "").strip()[:2] or None
    try:
        query = query_from_filters(
            interval,
            country=[country] if country else None,
            since=dates["since"],
            until=dates["until"],
            by=[by] if by else None,
        )
    except SeriesError as error:
        return str(error)
    form = {
        "interval": interval,
        "by": by,
        "country": country or "",
        "since": params.get("since") or "",
        "until": params.get("until") or "",
    }
    return query, form


def _series(session: Session, who: SignedIn, query: Any) -> Any:
    from veille.analytics.series import series

    result = series(session, query, who.agency_id)
    if len(result.periods) > MAX_TREND_PERIODS:
        raise ValueError(
            f"since: {len(result.periods)} periods asked for; narrow the dates "
            f"(at most {MAX_TREND_PERIODS})"
        )
    return result


@router.get("/trends")
async def trends_page(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """Reports per period, split by one dimension, as the agency may count them."""
    parsed = _trend_query(request)
    if isinstance(parsed, str):
        return error_page(request, who, 422, parsed)
    query, form = parsed

    def work(session: Session) -> Any:
        result = _series(session, who, query)
        _audit_read(session, who, "trends.read", query.describe())
        return result

    try:
        result = await in_thread(request, work)
    except ValueError as error:
        return error_page(request, who, 422, str(error))
    shown = sorted(result.series, key=lambda one: -one.total)[:8]
    context = {
        "result": result,
        "shown": shown,
        "form": form,
        "dimensions": TREND_DIMENSIONS,
        "chart": f"{APP_PREFIX}/trends/chart.png?{request.url.query}",
    }
    return pages.render(request, "app/trends.html", context, who=who)


@router.get("/trends/chart.png")
async def trends_chart(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """The trends page's chart, drawn for this agency's counts."""
    from veille.analytics.charts import series_chart

    parsed = _trend_query(request)
    if isinstance(parsed, str):
        return Response(parsed, status_code=422, media_type="text/plain")
    query, _ = parsed
    try:
        result = await in_thread(request, lambda session: _series(session, who, query))
    except ValueError as error:
        return Response(str(error), status_code=422, media_type="text/plain")

    def draw() -> bytes:
        with tempfile.TemporaryDirectory(prefix="veille-chart-") as folder:
            path = series_chart(result, Path(folder) / "chart.png")
            return path.read_bytes()

    png = await run_in_threadpool(draw)
    return Response(png, media_type="image/png", headers=PAGE_HEADERS)


# -- hash lists ----------------------------------------------------------------------------


@router.get("/lists")
async def lists_page(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """The known-content hash lists: provenance, items, removed items (tombstones), and each
    list's imports and removals (its versions), newest first."""
    from veille.media.lists import list_history, list_lists

    def work(session: Session) -> list[dict[str, object]]:
        found = list_lists(session)
        for entry in found:
            entry["history"] = list_history(session, str(entry["name"]))
        _audit_read(session, who, "lists.read")
        return found

    return pages.render(
        request, "app/lists.html", {"lists": await in_thread(request, work)}, who=who
    )


# -- take-downs ----------------------------------------------------------------------------


@router.get("/takedowns")
async def takedowns_page(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """The agency's take-down notices, newest first, with the time to removal."""
    from veille.casework.models import NoticeState
    from veille.casework.notices import notice_rows

    state_text = request.query_params.get("state") or ""
    try:
        state = NoticeState(state_text) if state_text else None
    except ValueError:
        choices = ", ".join(s.value for s in NoticeState)
        return error_page(request, who, 422, f"state: one of {choices}")

    def work(session: Session) -> list[Any]:
        rows = notice_rows(session, who.viewer, state=state, limit=500)
        _audit_read(session, who, "takedown.read", state_text or None)
        return sorted(rows, key=lambda row: row.created_at, reverse=True)

    context = {
        "notices": await in_thread(request, work),
        "states": [s.value for s in NoticeState],
        "state": state_text,
    }
    return pages.render(request, "app/takedowns.html", context, who=who)


# -- travel alerts -------------------------------------------------------------------------


@router.get("/travel")
async def travel_page(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """Travel alerts addressed to the agency: open ones first, then by score."""
    from veille.casework.travel.alerts import count_alerts, list_alerts

    def work(session: Session) -> dict[str, Any]:
        alerts = list_alerts(session, who.viewer, limit=200)
        counts = count_alerts(session, who.viewer)
        _audit_read(session, who, "travel.alert.read")
        return {"alerts": alerts, "counts": counts}

    context = await in_thread(request, work)
    context.update(can_work=who.may(WORKERS), notice=request.query_params.get("done"))
    return pages.render(request, "app/travel.html", context, who=who)


@router.post("/travel")
async def travel_review(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """Confirm or dismiss a travel alert (recorded with who and when)."""
    from veille.casework.travel.alerts import AlertNotFound, review_alert
    from veille.casework.travel.models import AlertState

    fields = await posted_form(request, who, action="travel.alert.review", roles=WORKERS)
    if isinstance(fields, Response):
        return fields
    decision_text, alert_text = first(fields, "decision"), first(fields, "alert_id")
    if decision_text not in (AlertState.CONFIRMED.value, AlertState.DISMISSED.value):
        return error_page(request, who, 422, "decision: confirmed or dismissed")
    if not alert_text.isdecimal() or len(alert_text) > 10:
        return error_page(request, who, 422, "alert_id: expected an alert number")
    database = request.app.state.veille.database
    note = first(fields, "note")[:1000] or None

    def review() -> str | None:
        try:
            review_alert(database, who.viewer, int(alert_text), AlertState(decision_text), note)
        except AlertNotFound:
            return "alert_id: no such alert of your agency"
        return None

    state = request.app.state.veille
    problem = await run_in_threadpool(
        state.serialised if database.dialect == "sqlite" else (lambda f: f()), review
    )
    if problem is not None:
        return error_page(request, who, 404, "alert")
    return RedirectResponse(f"{APP_PREFIX}/travel?done={decision_text}", status_code=303)


# -- questionnaires and incidents -----------------------------------------------------------


@router.get("/surveys")
async def surveys_page(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """The questionnaires sent to the agency, and whether it has answered."""
    from veille.casework.models import (
        Questionnaire,
        QuestionnaireDispatch,
        QuestionnaireResponse,
    )

    def work(session: Session) -> list[dict[str, Any]]:
        answered = (
            select(func.max(QuestionnaireResponse.submitted_at))
            .where(
                QuestionnaireResponse.questionnaire_id == Questionnaire.id,
                QuestionnaireResponse.agency_id == who.agency_id,
            )
            .scalar_subquery()
        )
        rows = session.execute(
            select(Questionnaire, QuestionnaireDispatch.sent_at, answered)
            .join(QuestionnaireDispatch, QuestionnaireDispatch.questionnaire_id == Questionnaire.id)
            .where(QuestionnaireDispatch.agency_id == who.agency_id)
            .order_by(QuestionnaireDispatch.sent_at.desc())
        ).all()
        _audit_read(session, who, "survey.read")
        return [
            {"key": q.key, "title": q.title, "sent_at": sent_at, "answered_at": answered_at}
            for q, sent_at, answered_at in rows
        ]

    return pages.render(
        request, "app/surveys.html", {"surveys": await in_thread(request, work)}, who=who
    )


def _survey_for(session: Session, who: SignedIn, key: str) -> Any:
    """The questionnaire ``key`` if it was sent to the agency, else ``None``."""
    from veille.casework.errors import NotFound
    from veille.casework.survey import find_questionnaire, sent_to

    if len(key) > 100:
        return None
    try:
        questionnaire = find_questionnaire(session, key)
    except NotFound:
        return None
    return questionnaire if sent_to(session, questionnaire, who.agency_id) else None


def _survey_context(session: Session, questionnaire: Any, who: SignedIn) -> dict[str, Any]:
    from veille.casework.models import QuestionnaireResponse
    from veille.casework.survey import definition_of

    previous = session.scalar(
        select(QuestionnaireResponse).where(
            QuestionnaireResponse.questionnaire_id == questionnaire.id,
            QuestionnaireResponse.agency_id == who.agency_id,
        )
    )
    return {
        "questionnaire": questionnaire,
        "definition": definition_of(questionnaire),
        "values": dict(previous.answers) if previous is not None else {},
        "answered_at": previous.submitted_at if previous is not None else None,
        "can_work": who.may(WORKERS),
        "problems": {},
    }


@router.get("/surveys/{key}")
async def survey_form(request: Request, key: str, who: SignedIn = Depends(signed_in)) -> Response:
    """A questionnaire sent to the agency, as a form (its last answers filled in)."""

    def work(session: Session) -> dict[str, Any] | None:
        questionnaire = _survey_for(session, who, key)
        if questionnaire is None:
            return None
        _audit_read(session, who, "survey.read", questionnaire.key)
        return _survey_context(session, questionnaire, who)

    context = await in_thread(request, work)
    if context is None:
        return error_page(request, who, 404, "survey")
    context["saved"] = request.query_params.get("saved") == "1"
    return pages.render(request, "app/survey.html", context, who=who)


def _answers_from(
    definition: Any, fields: dict[str, list[str]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers a posted form gives (blank ones left out) and the fields that cannot be read."""
    from veille.casework.survey_definition import QuestionKind

    answers: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for question in definition.questions:
        text = first(fields, f"q.{question.id}").strip()
        if not text:
            continue
        if question.kind is QuestionKind.NUMBER:
            if not text.lstrip("-").isdecimal() or len(text) > 12:
                problems[question.id] = "expected a whole number"
                continue
            answers[question.id] = int(text)
        else:
            answers[question.id] = text
    return answers, problems


@router.post("/surveys/{key}")
async def survey_answer(request: Request, key: str, who: SignedIn = Depends(signed_in)) -> Response:
    """Record the agency's answers (replacing its earlier ones); a bad answer is named."""
    from veille.casework.errors import CaseworkError
    from veille.casework.survey import answer_problems, record_answers

    fields = await posted_form(request, who, action="survey.answer", roles=WORKERS)
    if isinstance(fields, Response):
        return fields

    def work(session: Session) -> dict[str, Any] | None:
        questionnaire = _survey_for(session, who, key)
        if questionnaire is None:
            return None
        context = _survey_context(session, questionnaire, who)
        answers, problems = _answers_from(context["definition"], fields)
        for field, reason in answer_problems(context["definition"], answers):
            problems.setdefault(field.removeprefix("answers."), reason)
        if problems:
            context.update(values={**answers}, problems=problems)
            return context
        agency = session.get(Agency, who.agency_id)
        assert agency is not None
        try:
            record_answers(
                session, questionnaire, agency, answers,
                submitted_at=None, channel="form", actor=who.username,
            )  # fmt: skip
        except CaseworkError as error:
            context.update(values=answers, problems={error.field: error.reason})
            return context
        return {}

    context = await in_thread(request, work)
    if context is None:
        return error_page(request, who, 404, "survey")
    if context:
        context["saved"] = False
        return pages.render(request, "app/survey.html", context, status=422, who=who)
    return RedirectResponse(f"{APP_PREFIX}/surveys/{key}?saved=1", status_code=303)


@router.get("/incidents")
async def incidents_page(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """School incidents: counts by region and year, and the newest incidents."""
    from veille.casework.incidents import Period, Place, count_incidents
    from veille.casework.models import SchoolIncident

    def work(session: Session) -> dict[str, Any]:
        total = session.scalar(select(func.count(SchoolIncident.id))) or 0
        newest = list(
            session.scalars(
                select(SchoolIncident)
                .order_by(SchoolIncident.occurred_at.desc(), SchoolIncident.id.desc())
                .limit(100)
            )
        )
        counts = count_incidents(session, place=Place.REGION, period=Period.YEAR)
        _audit_read(session, who, "incidents.read")
        return {"total": total, "incidents": newest, "counts": counts}

    return pages.render(request, "app/incidents.html", await in_thread(request, work), who=who)
