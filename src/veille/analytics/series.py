"""Report-count series from the rollups, filtered and split by any dimension.

A series is the number of reports per week (or month) that match a filter,
optionally one series per value of the dimensions in ``by``. Counts come
from ``analytics_report_count`` in SQL; an agency's counts include only the
reports it may see (its own, ``clear`` ones, and those shared with it that
are not ``red``: the last are counted from the report table, since a share
is not part of the rollup's key).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, bindparam, func, literal_column, or_, select, true
from sqlalchemy.orm import Session

from veille.analytics.models import UNKNOWN_COUNTRY, ReportCount
from veille.analytics.rollup import _PERIODS
from veille.store.models import Report, ReportFlagRow, ReportOffence, ReportShare
from veille.vocab import Marking

DIMENSIONS = ("country", "category", "channel", "reporter", "offence", "flag")
"""What a series may be split by (``by``) and filtered on."""

GRAINS = {"week": "w", "month": "m"}

MAX_PERIODS = 800
"""A series spans at most this many weeks or months (about 15 years of weeks): the work of a
query, a change-point search and its answer stays bounded whatever dates are asked for."""

_STRICTNESS = [
    m.value
    for m in (Marking.CLEAR, Marking.GREEN, Marking.AMBER, Marking.AMBER_STRICT, Marking.RED)
]


class SeriesError(ValueError):
    """A series query that cannot be answered as asked (the message names the option)."""


@dataclass(frozen=True)
class SeriesQuery:
    """Which reports a series counts, per which period, split by what."""

    grain: str = "week"
    countries: Sequence[str] = ()
    categories: Sequence[str] = ()
    channels: Sequence[str] = ()
    reporters: Sequence[str] = ()
    offences: Sequence[str] = ()
    flags: Sequence[str] = ()
    since: date | None = None
    until: date | None = None
    by: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.grain not in GRAINS:
            raise SeriesError(f"interval: {self.grain!r} is not one of {', '.join(GRAINS)}")
        unknown = [d for d in self.by if d not in DIMENSIONS]
        if unknown:
            raise SeriesError(f"by: {unknown[0]!r} is not one of {', '.join(DIMENSIONS)}")
        if self.label_kind == "both":
            raise SeriesError(
                "offence and flag: a series splits or filters by offence types or by flags, not both"
            )
        if self.since and self.until and self.since > self.until:
            raise SeriesError(f"since: {self.since} is after until ({self.until})")
        if self.since and self.until:
            days = self.until.toordinal() - self.since.toordinal()
            if days // (7 if self.grain == "week" else 28) > MAX_PERIODS:
                raise SeriesError(
                    f"since: from {self.since} to {self.until} spans more than "
                    f"{MAX_PERIODS} {self.grain}s (narrow since and until)"
                )

    @property
    def label_kind(self) -> str:
        offence = bool(self.offences) or "offence" in self.by
        flag = bool(self.flags) or "flag" in self.by
        return "both" if offence and flag else "offence" if offence else "flag" if flag else "all"

    def describe(self) -> str:
        """The filter in words (``country=FR,category=messaging``), for notes and alert keys."""
        parts = []
        for name, values in (
            ("country", self.countries),
            ("category", self.categories),
            ("channel", self.channels),
            ("reporter", self.reporters),
            ("offence", self.offences),
            ("flag", self.flags),
        ):
            if values:
                parts.append(f"{name}={'|'.join(sorted(values))}")
        return ",".join(parts) or "all reports"


def _given(values: Sequence[str] | None) -> tuple[str, ...]:
    # An empty value (``country=`` in a URL) filters nothing.
    return tuple(v.strip() for v in values or () if v.strip())


def query_from_filters(
    interval: str,
    country: Sequence[str] | None = None,
    category: Sequence[str] | None = None,
    channel: Sequence[str] | None = None,
    reporter: Sequence[str] | None = None,
    offence: Sequence[str] | None = None,
    flag: Sequence[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    by: Sequence[str] | None = None,
) -> SeriesQuery:
    """A query from the filters the CLI and the API take (raises :class:`SeriesError`)."""
    return SeriesQuery(
        grain=interval,
        countries=tuple(c.upper() for c in _given(country)),
        categories=_given(category),
        channels=_given(channel),
        reporters=_given(reporter),
        offences=_given(offence),
        flags=_given(flag),
        since=since,
        until=until,
        by=tuple(by or ()),
    )


@dataclass
class OneSeries:
    """The counts of one split (``key``: the ``by`` dimensions' values), a count per period."""

    key: tuple[str, ...]
    counts: list[int]
    marking: str = Marking.CLEAR.value
    """The strictest marking among the reports this split counts."""

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass
class SeriesResult:
    """Every split's counts over the same periods, and the strictest marking counted."""

    query: SeriesQuery
    periods: list[date]
    series: list[OneSeries] = field(default_factory=list)
    marking: str = Marking.CLEAR.value

    def as_dict(self) -> dict[str, Any]:
        return {
            "interval": self.query.grain,
            "filter": self.query.describe(),
            "by": list(self.query.by),
            "marking": self.marking,
            "periods": [p.isoformat() for p in self.periods],
            "series": [
                {
                    "key": dict(zip(self.query.by, s.key, strict=True)),
                    "counts": s.counts,
                    "total": s.total,
                }
                for s in self.series
            ],
        }

    def rows(self) -> list[dict[str, Any]]:
        """One row per split and period (CSV)."""
        return [
            {**dict(zip(self.query.by, s.key, strict=True)), "period": p.isoformat(), "count": c}
            for s in self.series
            for p, c in zip(self.periods, s.counts, strict=True)
        ]


def _rollup_column(dimension: str) -> Any:
    return {
        "country": ReportCount.country,
        "category": ReportCount.category,
        "channel": ReportCount.channel,
        "reporter": ReportCount.reporter,
        "offence": ReportCount.label,
        "flag": ReportCount.label,
    }[dimension]


def _rollup_conditions(query: SeriesQuery) -> list[ColumnElement[bool]]:
    conditions = [
        ReportCount.grain == GRAINS[query.grain],
        ReportCount.label_kind == query.label_kind,
    ]
    for column, values in (
        (ReportCount.country, query.countries),
        (ReportCount.category, query.categories),
        (ReportCount.channel, query.channels),
        (ReportCount.reporter, query.reporters),
        (ReportCount.label, query.offences or query.flags),
    ):
        if values:
            conditions.append(column.in_(list(values)))
    if query.since:
        conditions.append(ReportCount.period >= period_start(query.since, query.grain))
    if query.until:
        conditions.append(ReportCount.period <= period_start(query.until, query.grain))
    return conditions


def _visible_rollup(agency_id: int | None) -> ColumnElement[bool]:
    if agency_id is None:
        return true()
    return or_(ReportCount.owner_agency_id == agency_id, ReportCount.marking == Marking.CLEAR.value)


def _shared_counts(session: Session, query: SeriesQuery, agency_id: int) -> list[tuple[Any, ...]]:
    """Counts of reports shared with ``agency_id`` that the rollup condition leaves out."""
    dialect = session.get_bind().dialect.name
    r = Report.__table__.alias("r")
    period: Any = literal_column(_PERIODS[GRAINS[query.grain]][0 if dialect == "postgresql" else 1])
    country = func.coalesce(r.c.derived_country, r.c.stated_country, UNKNOWN_COUNTRY)
    columns: dict[str, Any] = {
        "country": country,
        "category": r.c.platform_category,
        "channel": r.c.channel,
        "reporter": r.c.reporter_kind,
    }
    source: Any = r.join(
        ReportShare.__table__,
        and_(ReportShare.report_id == r.c.id, ReportShare.agency_id == agency_id),
    )
    label_column: Any = None
    if query.label_kind == "offence":
        source = source.join(ReportOffence.__table__, ReportOffence.report_id == r.c.id)
        label_column = ReportOffence.offence_type
    elif query.label_kind == "flag":
        source = source.join(ReportFlagRow.__table__, ReportFlagRow.report_id == r.c.id)
        label_column = ReportFlagRow.flag
    columns["offence"] = columns["flag"] = label_column
    conditions: list[ColumnElement[bool]] = [
        r.c.owner_agency_id != agency_id,
        r.c.marking.notin_([Marking.CLEAR.value, Marking.RED.value]),
    ]
    for name, values in (
        ("country", query.countries),
        ("category", query.categories),
        ("channel", query.channels),
        ("reporter", query.reporters),
    ):
        if values:
            conditions.append(columns[name].in_(list(values)))
    if label_column is not None and (query.offences or query.flags):
        conditions.append(label_column.in_(list(query.offences or query.flags)))
    if query.since:
        conditions.append(
            period >= bindparam("since_day", period_start(query.since, query.grain), Date)
        )
    if query.until:
        conditions.append(
            period <= bindparam("until_day", period_start(query.until, query.grain), Date)
        )
    keys = [columns[d] for d in query.by]
    statement = (
        select(period, *keys, r.c.marking, func.count())
        .select_from(source)
        .where(*conditions)
        .group_by(period, *keys, r.c.marking)
    )
    return [tuple(row) for row in session.execute(statement)]


def period_start(day: date, grain: str) -> date:
    """The first day of the week (Monday) or month that holds ``day``."""
    if grain in ("m", "month"):
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def next_period(day: date, grain: str) -> date:
    if grain in ("m", "month"):
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=7)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def series(session: Session, query: SeriesQuery, agency_id: int | None) -> SeriesResult:
    """The counts ``query`` asks for, as ``agency_id`` may see them (``None``: every report)."""
    keys = [_rollup_column(d) for d in query.by]
    statement = (
        select(ReportCount.period, *keys, ReportCount.marking, func.sum(ReportCount.count))
        .where(*_rollup_conditions(query), _visible_rollup(agency_id))
        .group_by(ReportCount.period, *keys, ReportCount.marking)
    )
    rows = [tuple(row) for row in session.execute(statement)]
    if agency_id is not None:
        rows += _shared_counts(session, query, agency_id)
    totals: dict[tuple[str, ...], dict[date, int]] = defaultdict(lambda: defaultdict(int))
    strictest: dict[tuple[str, ...], int] = defaultdict(int)
    for row in rows:
        period, *key, marking, count = row
        split = tuple(str(k) for k in key)
        totals[split][_as_date(period)] += int(count)
        # An unknown marking counts as the strictest.
        level = _STRICTNESS.index(marking) if marking in _STRICTNESS else len(_STRICTNESS) - 1
        strictest[split] = max(strictest[split], level)
    grain = GRAINS[query.grain]
    seen = [p for per_key in totals.values() for p in per_key]
    first = period_start(query.since, grain) if query.since else min(seen, default=None)
    last = period_start(query.until, grain) if query.until else max(seen, default=None)
    periods: list[date] = []
    if first is not None and last is not None:
        span = (
            (last.toordinal() - first.toordinal()) // 7
            if grain == "w"
            else ((last.year - first.year) * 12 + last.month - first.month)
        )
        if span + 1 > MAX_PERIODS:
            raise SeriesError(
                f"since: from {first} to {last} is {span + 1} {query.grain}s; "
                f"a series spans at most {MAX_PERIODS} (narrow --since and --until)"
            )
        current = first
        while current <= last:
            periods.append(current)
            current = next_period(current, grain)
    overall = max(strictest.values(), default=0)
    result = SeriesResult(query, periods, marking=_STRICTNESS[overall])
    for split in sorted(totals):
        per_period = totals[split]
        result.series.append(
            OneSeries(split, [per_period.get(p, 0) for p in periods], _STRICTNESS[strictest[split]])
        )
    if not query.by and not result.series and periods:
        result.series.append(OneSeries((), [0] * len(periods)))
    return result
