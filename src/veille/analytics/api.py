"""REST routes of the analytics capability under ``/api/v1/analytics``.

Every route reads as the calling agency (an API key with ``reports:read``):
its counts include only the reports it may see, and it sees the alerts
whose marking is ``clear``. A bad filter or period is a 422 naming the
parameter, in the one error shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from veille.core.api import DatabaseDep, ReaderDep, problem, problem_responses

_Values = Annotated[list[str] | None, Query(max_length=64)]
_Dimension = Literal["country", "category", "channel", "reporter", "offence", "flag"]
_By = Annotated[list[_Dimension] | None, Query(max_length=6)]
_PERIOD_PATTERN = r"^[A-Za-z0-9_.-]{1,64}=[0-9]{4}-[0-9]{2}-[0-9]{2}\.\.[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_Periods = Annotated[
    list[Annotated[str, Query(pattern=_PERIOD_PATTERN)]],
    Query(
        min_length=2,
        max_length=16,
        description="NAME=YYYY-MM-DD..YYYY-MM-DD, at least two; the first is the baseline",
    ),
]


class SeriesOne(BaseModel):
    key: dict[str, str]
    counts: list[int]
    total: int


class SeriesOut(BaseModel):
    interval: str
    filter: str
    by: list[str]
    marking: str
    periods: list[str]
    series: list[SeriesOne]


class ComparisonOut(BaseModel):
    filter: str
    by: list[str]
    baseline: str
    marking: str
    tests: int
    comparisons: list[dict[str, Any]]


class GapOut(BaseModel):
    filter: str
    by: list[str]
    baseline: str
    marking: str
    gaps: list[dict[str, Any]]


class ChangesOut(BaseModel):
    filter: str
    marking: str
    changes: list[dict[str, Any]]


class AlertOut(BaseModel):
    id: int
    series: str
    week: str
    direction: str
    observed: int
    expected: float
    band_low: float
    band_high: float
    p_value: float
    marking: str
    created_at: str | None


def _query(
    interval: str,
    country: list[str] | None,
    category: list[str] | None,
    channel: list[str] | None,
    reporter: list[str] | None,
    offence: list[str] | None,
    flag: list[str] | None,
    since: date | None,
    until: date | None,
    by: Sequence[str] | None,
) -> Any:
    from veille.analytics.series import SeriesError, query_from_filters

    try:
        return query_from_filters(
            interval, country, category, channel, reporter, offence, flag, since, until, by
        )
    except SeriesError as error:
        raise _refused(error) from None


def _refused(error: Exception, status: int = 422) -> Any:
    """The one error shape from a ``"field: reason"`` message."""
    field, _, reason = str(error).partition(": ")
    return problem(status, field, reason)


def _api_periods(period: list[str]) -> Any:
    from veille.analytics.periods import PeriodError, parse_period, period_set

    try:
        return period_set([parse_period(p) for p in period])
    except PeriodError as error:
        raise problem(422, "period", str(error).partition(": ")[2] or str(error)) from None


def router() -> APIRouter:
    """The analytics routes (mounted under ``/api/v1`` by the web app)."""
    from veille.analytics.series import SeriesError, series

    routes = APIRouter(tags=["analytics"], responses=problem_responses(401, 403, 422))

    def read(database: Any, viewer: Any, query: Any) -> Any:
        from veille.store.audit import record_event

        with database.session() as session:
            try:
                result = series(session, query, viewer.agency_id)
            except SeriesError as error:
                raise _refused(error) from None
            record_event(
                session,
                actor=viewer.actor,
                action="trends.read",
                object_type="series",
                agency_id=viewer.agency_id,
                detail=f"{query.describe()}; by {','.join(query.by) or 'nothing'}",
            )
        return result

    @routes.get("/analytics/series", response_model=SeriesOut, summary="Reports per week or month")
    def get_series(
        database: DatabaseDep,
        viewer: ReaderDep,
        interval: Annotated[str, Query(pattern="^(week|month)$")] = "week",
        country: _Values = None,
        category: _Values = None,
        channel: _Values = None,
        reporter: _Values = None,
        offence: _Values = None,
        flag: _Values = None,
        since: date | None = None,
        until: date | None = None,
        by: _By = None,
    ) -> dict[str, Any]:
        query = _query(
            interval, country, category, channel, reporter, offence, flag, since, until, by
        )
        result: dict[str, Any] = read(database, viewer, query).as_dict()
        return result

    @routes.get(
        "/analytics/compare",
        response_model=ComparisonOut,
        summary="Rate ratios of named periods against a baseline, with 95 % intervals",
    )
    def get_compare(
        database: DatabaseDep,
        viewer: ReaderDep,
        period: _Periods,
        baseline: Annotated[str | None, Query(max_length=64)] = None,
        trend: bool = False,
        pooled: bool = False,
        country: _Values = None,
        category: _Values = None,
        channel: _Values = None,
        reporter: _Values = None,
        offence: _Values = None,
        flag: _Values = None,
        by: _By = None,
    ) -> dict[str, Any]:
        from veille.analytics.compare import compare

        periods = _api_periods(period)
        split: list[str] = list(by or ())
        if pooled and "country" not in split:
            split.append("country")
        first, last = periods.span
        query = _query(
            "week", country, category, channel, reporter, offence, flag, first, last, split
        )
        try:
            compared = compare(
                read(database, viewer, query), periods, baseline, trend=trend, pooled=pooled
            )
        except ValueError as error:
            raise _refused(error) from None
        return compared.as_dict()

    @routes.get(
        "/analytics/gap",
        response_model=GapOut,
        summary="Reports expected from the baseline against reports observed, per period",
    )
    def get_gap(
        database: DatabaseDep,
        viewer: ReaderDep,
        period: _Periods,
        baseline: Annotated[str | None, Query(max_length=64)] = None,
        trend: bool = False,
        pooled: bool = False,
        country: _Values = None,
        category: _Values = None,
        channel: _Values = None,
        reporter: _Values = None,
        offence: _Values = None,
        flag: _Values = None,
        by: _By = None,
    ) -> dict[str, Any]:
        from veille.analytics.gap import reporting_gap

        periods = _api_periods(period)
        split: list[str] = list(by or ())
        if pooled and "country" not in split:
            split.append("country")
        first, last = periods.span
        query = _query(
            "week", country, category, channel, reporter, offence, flag, first, last, split
        )
        try:
            gaps = reporting_gap(
                read(database, viewer, query), periods, baseline, trend, pooled=pooled
            )
        except ValueError as error:
            raise _refused(error) from None
        return gaps.as_dict()

    @routes.get("/analytics/changes", response_model=ChangesOut, summary="Change points per series")
    def get_changes(
        database: DatabaseDep,
        viewer: ReaderDep,
        country: _Values = None,
        category: _Values = None,
        channel: _Values = None,
        reporter: _Values = None,
        offence: _Values = None,
        flag: _Values = None,
        since: date | None = None,
        until: date | None = None,
        by: _By = None,
    ) -> dict[str, Any]:
        from veille.analytics.changes import series_changes

        query = _query(
            "week", country, category, channel, reporter, offence, flag, since, until, by
        )
        result = read(database, viewer, query)
        rows = []
        for one in series_changes(result):
            key = dict(zip(query.by, one.key, strict=True))
            if not one.points:
                rows.append({**key, "week": None, "note": one.note or "no change point"})
            rows.extend({**key, **p.as_dict(), "note": ""} for p in one.points)
        return {"filter": query.describe(), "marking": result.marking, "changes": rows}

    @routes.get(
        "/analytics/content",
        summary="Reports against unique and new content per period, and the viral share",
    )
    def get_content(
        database: DatabaseDep,
        viewer: ReaderDep,
        interval: Annotated[str, Query(pattern="^(week|month)$")] = "week",
        country: _Values = None,
        category: _Values = None,
        since: date | None = None,
        until: date | None = None,
    ) -> dict[str, Any]:
        from veille.analytics.content import content_series

        query = _query(interval, country, category, None, None, None, None, since, until, None)
        with database.session() as session:
            try:
                result = content_series(session, query, viewer.agency_id)
            except SeriesError as error:
                raise _refused(error) from None
        return result.as_dict()

    @routes.get(
        "/analytics/providers",
        summary="Take-down response per provider and period: time to removal, overdue",
    )
    def get_providers(
        database: DatabaseDep,
        viewer: ReaderDep,
        period: _Periods,
        provider: Annotated[str | None, Query(max_length=200)] = None,
        overdue_days: Annotated[float, Query(gt=0, le=3650)] = 7.0,
    ) -> list[dict[str, Any]]:
        from veille.analytics.providers import provider_statistics

        periods = _api_periods(period)
        with database.session() as session:
            return provider_statistics(session, viewer, periods, provider, overdue_days)

    @routes.get(
        "/analytics/usage",
        summary="Database use per agency: regular users that stopped or reduced their use",
    )
    def get_usage(
        database: DatabaseDep,
        viewer: ReaderDep,
        period: _Periods,
        compare: Annotated[str | None, Query(max_length=64)] = None,
        regular_share: Annotated[float, Query(gt=0, le=1)] = 0.5,
        drop: Annotated[float, Query(gt=0, le=1)] = 0.5,
        sources: Annotated[str, Query(pattern="^(all|imported|audit)$")] = "all",
    ) -> dict[str, Any]:
        from veille.analytics.usage import usage

        periods = _api_periods(period)
        with database.session() as session:
            try:
                result = usage(
                    session,
                    periods,
                    compare,
                    agency_id=viewer.agency_id,
                    sources=sources,
                    drop=drop,
                    regular_share=regular_share,
                )
            except ValueError as error:
                raise _refused(error) from None
        return result.as_dict()

    @routes.get(
        "/analytics/survey/{questionnaire}",
        summary='Questionnaire answers as "N of M countries report an increase", per question',
        responses=problem_responses(404),
    )
    def get_survey(
        database: DatabaseDep,
        viewer: ReaderDep,
        questionnaire: Annotated[str, Path(max_length=64)],
    ) -> dict[str, Any]:
        from veille.analytics.survey import SurveyError, survey_summary

        with database.session() as session:
            try:
                return survey_summary(session, questionnaire)
            except SurveyError as error:
                raise _refused(error, 404) from None

    @routes.get(
        "/analytics/alerts",
        response_model=list[AlertOut],
        summary="Emerging-threat alerts you may read",
    )
    def get_alerts(
        database: DatabaseDep,
        viewer: ReaderDep,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        from veille.analytics.alerts import alert_dict, list_alerts

        with database.session() as session:
            return [alert_dict(a) for a in list_alerts(session, viewer.agency_id, limit)]

    return routes
