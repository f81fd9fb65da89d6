"""Period comparison: how much each named period's weekly rate differs from the baseline's.

Each series is fitted with a quasi-Poisson GLM on its complete weeks inside
the named periods: an intercept, one indicator per period other than the
baseline, and a yearly harmonic when those weeks span two years or more (so
that a period falling in a season with more reports is not read as an
effect). ``exp(beta)`` is the rate ratio against the baseline, with its 95 %
interval. When several tests are made (many series, several periods), their
p-values are adjusted together (Benjamini–Hochberg), and a change is called
an increase or a decrease only when its interval excludes 1 and its adjusted
p-value is under 0.05; *stable* needs the interval to lie within 0.8–1.25;
otherwise the comparison is *uncertain*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from veille.analytics.periods import Period, PeriodSet
from veille.analytics.series import SeriesResult
from veille.analytics.stats import (
    benjamini_hochberg,
    fit_quasi_poisson,
    rate_ratio,
    spans_two_years,
    yearly_terms,
)

MIN_BASELINE_WEEKS = 4
MIN_PERIOD_WEEKS = 3
ALPHA = 0.05
STABLE_RANGE = (0.8, 1.25)


@dataclass
class Comparison:
    """One period of one series against its baseline."""

    key: tuple[str, ...]
    period: str
    baseline: str
    weeks: int
    baseline_weeks: int
    mean_per_week: float
    baseline_mean_per_week: float
    rate_ratio: float | None = None
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    dispersion: float | None = None
    seasonal: bool = False
    verdict: str = "too short"
    note: str = ""

    def as_dict(self, by: tuple[str, ...]) -> dict[str, Any]:
        def rounded(value: float | None, digits: int = 3) -> float | None:
            return None if value is None else round(value, digits)

        return {
            **dict(zip(by, self.key, strict=True)),
            "period": self.period,
            "baseline": self.baseline,
            "weeks": self.weeks,
            "baseline_weeks": self.baseline_weeks,
            "mean_per_week": round(self.mean_per_week, 2),
            "baseline_mean_per_week": round(self.baseline_mean_per_week, 2),
            "rate_ratio": rounded(self.rate_ratio),
            "ci_low": rounded(self.low),
            "ci_high": rounded(self.high),
            "p_value": rounded(self.p_value, 5),
            "q_value": rounded(self.q_value, 5),
            "dispersion": rounded(self.dispersion, 2),
            "seasonal_term": self.seasonal,
            "verdict": self.verdict,
            "note": self.note,
        }


@dataclass
class ComparisonResult:
    """Every comparison made, with what they were made on."""

    by: tuple[str, ...]
    baseline: str
    filter: str
    marking: str
    comparisons: list[Comparison] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "filter": self.filter,
            "by": list(self.by),
            "baseline": self.baseline,
            "marking": self.marking,
            "tests": sum(1 for c in self.comparisons if c.p_value is not None),
            "comparisons": [c.as_dict(self.by) for c in self.comparisons],
        }


def country_of(key: tuple[str, ...], by: tuple[str, ...]) -> str | None:
    return key[by.index("country")] if "country" in by else None


def compare(
    result: SeriesResult,
    periods: PeriodSet,
    baseline: str | None = None,
    *,
    trend: bool = False,
    pooled: bool = False,
) -> ComparisonResult:
    """Compare each series of ``result`` (weekly) over ``periods`` with the ``baseline`` period.

    ``trend`` adds a log-linear trend per year, fitted on the baseline: each
    compared period has a slope of its own around its middle, and its ratio
    is its level there against the baseline's trend carried forward. ``pooled`` needs a
    result split by country: the countries of each remaining split are fitted
    together (one level per country, one effect shared), each over its own
    dates, so that dates that differ by country neither blur the effect nor
    leave small countries without a verdict.
    """
    if result.query.grain != "week":
        raise ValueError("interval: period comparisons use weekly series")
    base_name = baseline or periods.names[0]
    if base_name not in periods.names:
        raise ValueError(
            f"baseline: {base_name!r} is not one of the periods ({', '.join(periods.names)})"
        )
    by = tuple(result.query.by)
    if pooled and "country" not in by:
        raise ValueError("pooled: split the series by country (--by country) to pool them")
    shown_by = tuple(d for d in by if d != "country") if pooled else by
    out = ComparisonResult(shown_by, base_name, result.query.describe(), result.marking)
    if pooled:
        position = by.index("country")
        groups: dict[tuple[str, ...], list[_Unit]] = {}
        for one in result.series:
            rest = one.key[:position] + one.key[position + 1 :]
            groups.setdefault(rest, []).append(
                _Unit(result.periods, one.counts, periods.for_country(one.key[position]))
            )
        for rest, units in sorted(groups.items()):
            out.comparisons.extend(_compare_units(rest, units, base_name, trend))
    else:
        for one in result.series:
            own = periods.for_country(country_of(one.key, by))
            out.comparisons.extend(
                _compare_units(one.key, [_Unit(result.periods, one.counts, own)], base_name, trend)
            )
    tested = [c for c in out.comparisons if c.p_value is not None]
    for comparison, q_value in zip(
        tested,
        benjamini_hochberg([1.0 if c.p_value is None else c.p_value for c in tested]),
        strict=True,
    ):
        comparison.q_value = q_value
        comparison.verdict = _verdict(comparison)
    return out


def _verdict(c: Comparison) -> str:
    assert c.low is not None and c.high is not None and c.q_value is not None
    if c.q_value < ALPHA and c.low > 1:
        return "increase"
    if c.q_value < ALPHA and c.high < 1:
        return "decrease"
    if STABLE_RANGE[0] <= c.low and c.high <= STABLE_RANGE[1]:
        return "stable"
    return "uncertain"


@dataclass
class _Unit:
    """One series the model fits, over its own periods (a country in a pooled comparison)."""

    weeks: list[date]
    counts: list[int]
    periods: tuple[Period, ...]


def _compare_units(
    key: tuple[str, ...], units: list[_Unit], base_name: str, trend: bool
) -> list[Comparison]:
    names = [p.name for p in units[0].periods]
    others = [n for n in names if n != base_name]
    # Every (unit, week) inside one of the unit's periods: its period's name.
    cells: list[tuple[int, int, str]] = []
    for u, unit in enumerate(units):
        for index, monday in enumerate(unit.weeks):
            for period in unit.periods:
                if period.holds_week(monday):
                    cells.append((u, index, period.name))
                    break
    weeks_in = {n: len({units[u].weeks[i] for u, i, p in cells if p == n}) for n in names}
    count_in = {n: sum(units[u].counts[i] for u, i, p in cells if p == n) for n in names}
    unit_weeks = {n: sum(1 for _u, _i, p in cells if p == n) for n in names}

    def mean(name: str) -> float:
        # Reports per week, all units together (each unit over its own weeks).
        return count_in[name] / unit_weeks[name] * len(units) if unit_weeks[name] else 0.0

    comparisons = [
        Comparison(key, n, base_name, weeks_in[n], weeks_in[base_name], mean(n), mean(base_name))
        for n in others
    ]
    usable = [c for c in comparisons if c.weeks >= MIN_PERIOD_WEEKS]
    for c in comparisons:
        if c.weeks < MIN_PERIOD_WEEKS:
            c.note = (
                f"{c.weeks} complete weeks in {c.period}; at least {MIN_PERIOD_WEEKS} are needed"
            )
    if weeks_in[base_name] < MIN_BASELINE_WEEKS:
        for c in comparisons:
            c.verdict, c.note = (
                "too short",
                f"{weeks_in[base_name]} complete weeks in the baseline; at least {MIN_BASELINE_WEEKS} are needed",
            )
        return comparisons
    if not usable:
        return comparisons
    if count_in[base_name] == 0:
        for c in usable:
            c.verdict, c.note = (
                ("no reports", "no report in these weeks")
                if sum(count_in.values()) == 0
                else ("uncertain", "no report in the baseline: no ratio to state")
            )
        return comparisons
    wanted = {base_name, *(c.period for c in usable)}
    # A unit with no report in its baseline says nothing about a ratio: left out.
    base_count: dict[int, int] = {}
    for u, i, p in cells:
        if p == base_name:
            base_count[u] = base_count.get(u, 0) + units[u].counts[i]
    live = {u for u, count in base_count.items() if count}
    chosen = [(u, i, p) for u, i, p in cells if p in wanted and u in live]
    unit_order = sorted(live)
    unit_of = np.array([u for u, _i, _p in chosen])
    period_of = np.array([p for _u, _i, p in chosen])
    columns = [(unit_of == unit).astype(float) for unit in unit_order]
    for c in usable:
        columns.append((period_of == c.period).astype(float))
    when = [units[u].weeks[i] for u, i, _p in chosen]
    if trend:
        # The trend is the baseline's: each compared period has a slope of its own
        # around its middle, so that a change building up over a period is not read
        # as growth, and the period's term is its level at its middle against the
        # baseline's trend carried forward there.
        origin = min(when).toordinal()
        years = np.array([(w.toordinal() - origin) / 365.25 for w in when])
        columns.append(years)
        for c in usable:
            inside = period_of == c.period
            columns.append(np.where(inside, years - years[inside].mean(), 0.0))
    seasonal = spans_two_years(sorted(set(when)))
    design = np.column_stack(columns)
    if seasonal:
        design = np.column_stack([design, yearly_terms(when)])
    fit = fit_quasi_poisson([units[u].counts[i] for u, i, _p in chosen], design)
    for position, c in enumerate(usable, start=len(unit_order)):
        if c.mean_per_week == 0:
            c.verdict, c.note = (
                "uncertain",
                f"no report in {c.period}: the ratio has no finite interval",
            )
            continue
        c.rate_ratio, c.low, c.high, c.p_value = rate_ratio(fit, position)
        c.dispersion, c.seasonal = fit.dispersion, seasonal
        notes = []
        if not seasonal:
            notes.append("no yearly term: the weeks compared span less than two years")
        if len(units) > 1:
            notes.append(f"pooled over {len(live)} series, each over its own dates")
        c.note = "; ".join(notes)
    return comparisons
