"""The numbers of a threat assessment, every one computed by the analytics capability.

:func:`compute_assessment` reads, for a period and a set of countries, the
series, period comparisons, reporting gap, content, take-down, database-use,
questionnaire and travel figures the report's sections need. Each
:class:`Figure` says what it counts, over which period and filters, and
carries its interval where it is an estimate. A trend is a
:class:`Trend` whose ``verdict`` comes from the comparison's test
(``increase`` / ``decrease`` only when the interval and the false-discovery
control say so), so no sentence states a change the data do not support.
Markings: the strictest marking of what was counted is kept, and is the
report's marking unless an analyst lowers it explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from veille.store.db import Database
from veille.store.reports import Viewer
from veille.vocab import Marking

ONLINE_CATEGORIES = (
    "p2p",
    "darknet_forum",
    "social_media",
    "messaging",
    "video_conference",
    "online_gaming",
    "paid_content",
)
"""The platform categories the seed's online trends are about, in its order."""
MARKING_ORDER = [m.value for m in Marking]
"""From the least to the most restricted."""


class AssessmentError(ValueError):
    """Options that cannot make an assessment (the message names the option)."""


@dataclass(frozen=True)
class AssessmentOptions:
    """What the assessment covers."""

    start: date
    end: date
    baseline: tuple[date, date] | None = None
    """Default: the year before ``start``."""
    restrictions: tuple[date, date] | None = None
    """When given, the report compares the restrictions and the months after with the baseline."""
    countries: tuple[str, ...] = ()
    marking: str | None = None
    """An analyst's explicit, lower marking (recorded in the report)."""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise AssessmentError("--to: must not be before --from")
        base = self.baseline_span
        if base[1] < base[0]:
            raise AssessmentError("--baseline-to: must not be before --baseline-from")
        if self.restrictions is not None:
            low, high = self.restrictions
            if high < low:
                raise AssessmentError("--restrictions-to: must not be before --restrictions-from")
            if low < self.start or high > self.end:
                raise AssessmentError("--restrictions-from/--restrictions-to: inside --from..--to")
        if self.marking is not None and self.marking not in MARKING_ORDER:
            raise AssessmentError(f"--marking: one of {', '.join(MARKING_ORDER)}")

    @property
    def baseline_span(self) -> tuple[date, date]:
        if self.baseline is not None:
            return self.baseline
        return self.start - timedelta(days=365), self.start - timedelta(days=1)

    def period_spans(self) -> list[tuple[str, date, date]]:
        """The named periods compared: the baseline first."""
        base = self.baseline_span
        spans = [("baseline", base[0], base[1])]
        if self.restrictions is None:
            spans.append(("period", self.start, self.end))
            return spans
        low, high = self.restrictions
        if low > self.start:
            spans.append(("before", self.start, low - timedelta(days=1)))
        spans.append(("restrictions", low, high))
        if high < self.end:
            spans.append(("after", high + timedelta(days=1), self.end))
        return spans


@dataclass(frozen=True)
class Figure:
    """One number of the report and what it counts."""

    key: str
    value: float | int | None
    counts: str
    """What is counted, over which period and filters: an English text marked for translation,
    with ``%(name)s`` places filled from ``values`` in the reader's language."""
    values: dict[str, Any] = field(default_factory=dict)
    low: float | None = None
    high: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class Trend:
    """A comparison of one series in one period with the baseline, and its verdict."""

    subject: str
    period: str
    rate_ratio: float | None
    low: float | None
    high: float | None
    verdict: str
    """``increase``, ``decrease``, ``stable``, ``uncertain`` or ``too short``."""
    mean_per_week: float
    baseline_mean_per_week: float


@dataclass
class AssessmentData:
    """Everything the report shows, computed."""

    options: AssessmentOptions
    marking: str
    computed_marking: str
    periods: list[tuple[str, date, date]]
    figures: dict[str, Figure] = field(default_factory=dict)
    online: list[Trend] = field(default_factory=list)
    offline: list[Trend] = field(default_factory=list)
    victims: list[Trend] = field(default_factory=list)
    """Self-generated content: reports of it against the baseline."""
    gaps: list[dict[str, Any]] = field(default_factory=list)
    takedown: list[dict[str, Any]] = field(default_factory=list)
    survey_sentences: list[str] = field(default_factory=list)
    monthly_online: tuple[list[date], list[tuple[str, list[int]]]] = ([], [])
    """Reports per month by online category (the charts are drawn in the reader's language)."""
    p2p_by_country: tuple[list[date], list[tuple[str, list[int]]]] = ([], [])
    """Peer-to-peer reports per month by country (the seed's figure)."""
    content_rows: list[dict[str, Any]] = field(default_factory=list)
    """Per month: reports with classified media, unique and new content, viral share."""

    def figure(self, key: str) -> Figure | None:
        return self.figures.get(key)

    def add(self, figure: Figure) -> None:
        self.figures[figure.key] = figure


def N_(text: str) -> str:
    """Mark ``text`` for translation (the report translates it)."""
    return text


def stricter(first: str, second: str) -> str:
    """The more restricted of two TLP markings."""
    return max(first, second, key=MARKING_ORDER.index)


def _period_set(options: AssessmentOptions) -> Any:
    from veille.analytics.periods import Period, period_set

    return period_set([Period(name, low, high) for name, low, high in options.period_spans()])


def _trends(result: Any, periods: Any, subject_of: Any) -> list[Trend]:
    from veille.analytics.compare import compare

    compared = compare(result, periods)
    return [
        Trend(
            subject=subject_of(c.key),
            period=c.period,
            rate_ratio=c.rate_ratio,
            low=c.low,
            high=c.high,
            verdict=c.verdict,
            mean_per_week=c.mean_per_week,
            baseline_mean_per_week=c.baseline_mean_per_week,
        )
        for c in compared.comparisons
    ]


def compute_assessment(database: Database, options: AssessmentOptions) -> AssessmentData:
    """Every number of the report, read through the analytics capability."""
    from veille.analytics.gap import reporting_gap
    from veille.analytics.rollup import roll_up
    from veille.analytics.series import SeriesQuery, series

    roll_up(database)
    periods = _period_set(options)
    spans = options.period_spans()
    first_day = spans[0][1]
    countries = tuple(c.upper() for c in options.countries)
    data = AssessmentData(options, Marking.CLEAR.value, Marking.CLEAR.value, spans)
    with database.session() as session:
        weekly = series(
            session,
            SeriesQuery(
                grain="week", countries=countries, since=first_day, until=options.end,
                by=("category",),
            ),
            None,
        )  # fmt: skip
        total_in = series(
            session,
            SeriesQuery(grain="month", countries=countries, since=options.start, until=options.end),
            None,
        )
        base_low, base_high = options.baseline_span
        total_base = series(
            session,
            SeriesQuery(grain="month", countries=countries, since=base_low, until=base_high),
            None,
        )
        domestic = series(
            session,
            SeriesQuery(
                grain="week", countries=countries, offences=("domestic_abuse",),
                since=first_day, until=options.end,
            ),
            None,
        )  # fmt: skip
        self_generated = series(
            session,
            SeriesQuery(
                grain="week", countries=countries, offences=("self_generated",),
                since=first_day, until=options.end,
            ),
            None,
        )  # fmt: skip
        content = _content(session, countries, options)
    marking = weekly.marking
    for counted in (total_in, total_base, domestic, self_generated):
        marking = stricter(marking, counted.marking)
    reports = sum(sum(s.counts) for s in total_in.series)
    data.add(
        Figure(
            "reports",
            reports,
            N_("reports received from %(start)s to %(end)s; countries: %(countries)s"),
            {"start": options.start, "end": options.end, "countries": countries},
        )
    )
    data.add(
        Figure(
            "reports_baseline",
            sum(sum(s.counts) for s in total_base.series),
            N_("reports received from %(start)s to %(end)s (baseline); countries: %(countries)s"),
            {"start": base_low, "end": base_high, "countries": countries},
        )
    )
    online = _trends(weekly, periods, lambda key: key[0])
    data.online = [t for t in online if t.subject in ONLINE_CATEGORIES]
    data.offline = [t for t in online if t.subject == "offline"]
    if domestic.series:
        data.offline.extend(_trends(domestic, periods, lambda _key: "domestic_abuse"))
        gaps = reporting_gap(domestic, periods)
        data.gaps = [g.as_dict(gaps.by) for g in gaps.gaps if g.period != "baseline"]
    if self_generated.series:
        data.victims = _trends(self_generated, periods, lambda _key: "self_generated")
    if content is not None:
        marking = stricter(marking, content["marking"])
        data.add(content["figure"])
        data.content_rows = content["rows"]
    data.takedown = _takedown(database, periods)
    usage_figure = _usage(database, periods, options)
    if usage_figure is not None:
        data.add(usage_figure)
    data.survey_sentences = _survey(database)
    travel = _travel(database, options)
    if travel is not None:
        data.add(travel)
    monthly = _monthly(database, countries, first_day, options.end, ONLINE_CATEGORIES, "category")
    data.monthly_online = (monthly.periods, [(one.key[0], one.counts) for one in monthly.series])
    p2p = _monthly(database, countries, first_day, options.end, ("p2p",), "country")
    data.p2p_by_country = (p2p.periods, [(one.key[0], one.counts) for one in p2p.series])
    for counted in (monthly, p2p):
        marking = stricter(marking, counted.marking)
    data.computed_marking = marking
    data.marking = options.marking or marking
    return data


def _monthly(
    database: Database,
    countries: tuple[str, ...],
    low: date,
    high: date,
    categories: tuple[str, ...],
    by: str,
) -> Any:
    from veille.analytics.series import SeriesQuery, series

    with database.session() as session:
        return series(
            session,
            SeriesQuery(
                grain="month", countries=countries, categories=categories,
                since=low, until=high, by=(by,),
            ),
            None,
        )  # fmt: skip


def _content(
    session: Any, countries: tuple[str, ...], options: AssessmentOptions
) -> dict[str, Any] | None:
    from veille.analytics.content import content_series
    from veille.analytics.series import SeriesQuery

    result = content_series(
        session,
        SeriesQuery(grain="month", countries=countries, since=options.start, until=options.end),
        None,
    )
    with_media = sum(int(row.get("reports_with_media", 0) or 0) for row in result.rows)
    viral = sum(
        float(row.get("reports_with_media", 0) or 0) * float(row.get("viral_share") or 0)
        for row in result.rows
    )
    if not with_media:
        return None
    return {
        "marking": result.marking,
        "rows": result.rows,
        "figure": Figure(
            "viral_share",
            round(100 * viral / with_media, 1),
            N_(
                "share of the reports with classified media whose content is viral, from "
                "%(start)s to %(end)s"
            ),
            {"start": options.start, "end": options.end},
            unit="%",
        ),
    }


def _takedown(database: Database, periods: Any) -> list[dict[str, Any]]:
    from veille.analytics.providers import provider_statistics

    with database.session() as session:
        rows = provider_statistics(session, Viewer("assessment", None), periods)
    return [r for r in rows if r.get("provider") == "all providers"]


def _usage(database: Database, periods: Any, options: AssessmentOptions) -> Figure | None:
    from veille.analytics.usage import usage

    compared = "restrictions" if options.restrictions is not None else "period"
    with database.session() as session:
        result = usage(session, periods, compared, regular_share=0.25).as_dict()
    if not result["regular_users"]:
        return None
    return Figure(
        "usage_drop",
        round(100 * (result["share_stopped_or_reduced"] or 0), 1),
        N_(
            "regular users of the database (the most active quarter in the baseline) that "
            "stopped or reduced their use by half or more during the %(period)s "
            "(%(users)s of %(regular)s)"
        ),
        {
            "period": compared,
            "users": result["stopped_or_reduced"],
            "regular": result["regular_users"],
        },
        unit="%",
    )


def _survey(database: Database) -> list[str]:
    from sqlalchemy import select

    from veille.analytics.survey import SurveyError, survey_summary
    from veille.casework.models import Questionnaire

    with database.session() as session:
        key = session.scalar(select(Questionnaire.key).order_by(Questionnaire.id.desc()).limit(1))
        if key is None:
            return []
        try:
            summary = survey_summary(session, key)
        except SurveyError:
            return []
    return [row["sentence"] for row in summary.get("rows", []) if "sentence" in row]


def _travel(database: Database, options: AssessmentOptions) -> Figure | None:
    from sqlalchemy import func, select

    from veille.casework.travel.models import AlertState, TravelAlert, TravelNotice

    with database.session() as session:
        rows = dict(
            session.execute(
                select(TravelAlert.state, func.count())
                .join(TravelNotice, TravelNotice.id == TravelAlert.notice_id)
                .where(
                    func.date(TravelNotice.departure_at) >= options.start,
                    func.date(TravelNotice.departure_at) <= options.end,
                )
                .group_by(TravelAlert.state)
            ).all()
        )
    if not rows:
        return None
    return Figure(
        "travel_confirmed",
        int(rows.get(AlertState.CONFIRMED, 0)),
        N_(
            "travel alerts confirmed by a reviewer for journeys from %(start)s to %(end)s "
            "(of %(raised)s raised)"
        ),
        {"start": options.start, "end": options.end, "raised": sum(rows.values())},
    )
