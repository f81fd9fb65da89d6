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
    result: SeriesResult, periods: PeriodSet, baseline: str | None = None
) -> ComparisonResult:
    """Compare each series of ``result`` (weekly) over ``periods`` with the ``baseline`` period."""
    if result.query.grain != "week":
        raise ValueError("interval: period comparisons use weekly series")
    base_name = baseline or periods.names[0]
    if base_name not in periods.names:
        raise ValueError(
            f"baseline: {base_name!r} is not one of the periods ({', '.join(periods.names)})"
        )
    by = tuple(result.query.by)
    out = ComparisonResult(by, base_name, result.query.describe(), result.marking)
    for one in result.series:
        own = periods.for_country(country_of(one.key, by))
        out.comparisons.extend(_compare_one(one.key, result.periods, one.counts, own, base_name))
    tested = [c for c in out.comparisons if c.p_value is not None]
    for comparison, q_value in zip(
        tested, benjamini_hochberg([c.p_value or 1.0 for c in tested]), strict=True
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


def _compare_one(
    key: tuple[str, ...],
    weeks: list[date],
    counts: list[int],
    periods: tuple[Period, ...],
    base_name: str,
) -> list[Comparison]:
    others = [p for p in periods if p.name != base_name]
    base = next(p for p in periods if p.name == base_name)
    member: dict[str, list[int]] = {p.name: [] for p in periods}
    for index, monday in enumerate(weeks):
        for period in periods:
            if period.holds_week(monday):
                member[period.name].append(index)
                break
    base_rows = member[base.name]

    def mean(rows: list[int]) -> float:
        return float(np.mean([counts[i] for i in rows])) if rows else 0.0

    comparisons = [
        Comparison(
            key,
            p.name,
            base.name,
            len(member[p.name]),
            len(base_rows),
            mean(member[p.name]),
            mean(base_rows),
        )
        for p in others
    ]
    usable = [c for c in comparisons if c.weeks >= MIN_PERIOD_WEEKS]
    for c in comparisons:
        if c.weeks < MIN_PERIOD_WEEKS:
            c.note = (
                f"{c.weeks} complete weeks in {c.period}; at least {MIN_PERIOD_WEEKS} are needed"
            )
    if len(base_rows) < MIN_BASELINE_WEEKS:
        for c in comparisons:
            c.verdict, c.note = (
                "too short",
                f"{len(base_rows)} complete weeks in the baseline; at least {MIN_BASELINE_WEEKS} are needed",
            )
        return comparisons
    if not usable:
        return comparisons
    rows = sorted(base_rows + [i for c in usable for i in member[c.period]])
    if sum(counts[i] for i in rows) == 0:
        for c in usable:
            c.verdict, c.note = "no reports", "no report in these weeks"
        return comparisons
    columns = [np.ones(len(rows))]
    for c in usable:
        inside = set(member[c.period])
        columns.append(np.array([1.0 if i in inside else 0.0 for i in rows]))
    chosen = [weeks[i] for i in rows]
    seasonal = spans_two_years(chosen)
    design = np.column_stack(columns)
    if seasonal:
        design = np.column_stack([design, yearly_terms(chosen)])
    if sum(counts[i] for i in member[base.name]) == 0:
        for c in usable:
            c.verdict, c.note = "uncertain", "no report in the baseline: no ratio to state"
        return comparisons
    fit = fit_quasi_poisson([counts[i] for i in rows], design)
    for position, c in enumerate(usable, start=1):
        if c.mean_per_week == 0:
            c.verdict, c.note = (
                "uncertain",
                f"no report in {c.period}: the ratio has no finite interval",
            )
            continue
        c.rate_ratio, c.low, c.high, c.p_value = rate_ratio(fit, position)
        c.dispersion, c.seasonal = fit.dispersion, seasonal
        if not seasonal:
            c.note = "no yearly term: the weeks compared span less than two years"
    return comparisons
