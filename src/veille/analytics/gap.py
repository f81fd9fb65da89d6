"""Reporting gap: how many reports the baseline predicts against how many came.

Each series is fitted on its baseline weeks alone (a quasi-Poisson GLM with
an intercept, and a yearly harmonic when the baseline spans two years), and
the fit predicts every complete week of the other named periods. Per period
the gap is ``observed − expected`` (with ``trend``, the baseline's
log-linear growth per year is fitted and carried forward): negative is a shortfall (reports that did
not come, such as abuse at home while schools and services were closed),
positive a surplus (the catch-up once they reopened). The 95 % interval
combines the uncertainty of the baseline rate (the delta method on the
fitted coefficients) and the week-to-week noise of the counts (the
dispersion times the expected count). ``net`` adds the periods up: a
shortfall not made good by the catch-up is an estimate of reports never
made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veille.analytics.compare import MIN_BASELINE_WEEKS, country_of
from veille.analytics.periods import PeriodSet
from veille.analytics.series import SeriesResult
from veille.analytics.stats import Z95, fit_quasi_poisson, spans_two_years, yearly_terms


@dataclass
class Gap:
    """Observed against expected reports in one period of one series."""

    key: tuple[str, ...]
    period: str
    weeks: int
    observed: int
    expected: float | None = None
    low: float | None = None
    high: float | None = None
    note: str = ""

    @property
    def gap(self) -> float | None:
        return None if self.expected is None else self.observed - self.expected

    def as_dict(self, by: tuple[str, ...]) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            **dict(zip(by, self.key, strict=True)),
            "period": self.period,
            "weeks": self.weeks,
            "observed": self.observed,
            "expected": rounded(self.expected),
            "gap": rounded(self.gap),
            "gap_low": rounded(self.low),
            "gap_high": rounded(self.high),
            "note": self.note,
        }


@dataclass
class GapResult:
    by: tuple[str, ...]
    baseline: str
    filter: str
    marking: str
    gaps: list[Gap] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "filter": self.filter,
            "by": list(self.by),
            "baseline": self.baseline,
            "marking": self.marking,
            "gaps": [g.as_dict(self.by) for g in self.gaps],
        }


def reporting_gap(
    result: SeriesResult, periods: PeriodSet, baseline: str | None = None, trend: bool = False
) -> GapResult:
    """Observed against expected reports per period (and ``net`` over them) for each series."""
    if result.query.grain != "week":
        raise ValueError("interval: the reporting gap uses weekly series")
    base_name = baseline or periods.names[0]
    if base_name not in periods.names:
        raise ValueError(
            f"baseline: {base_name!r} is not one of the periods ({', '.join(periods.names)})"
        )
    by = tuple(result.query.by)
    out = GapResult(by, base_name, result.query.describe(), result.marking)
    for one in result.series:
        own = periods.for_country(country_of(one.key, by))
        out.gaps.extend(_gaps_of(one.key, result.periods, one.counts, own, base_name, trend))
    return out


def _gaps_of(
    key: tuple[str, ...],
    weeks: list[Any],
    counts: list[int],
    periods: Any,
    base_name: str,
    trend: bool,
) -> list[Gap]:
    base = next(p for p in periods if p.name == base_name)
    others = [p for p in periods if p.name != base_name]
    base_rows = [i for i, w in enumerate(weeks) if base.holds_week(w)]
    rows_of = {p.name: [i for i, w in enumerate(weeks) if p.holds_week(w)] for p in others}
    gaps = [
        Gap(key, p.name, len(rows_of[p.name]), sum(counts[i] for i in rows_of[p.name]))
        for p in others
    ]
    if len(base_rows) < MIN_BASELINE_WEEKS or sum(counts[i] for i in base_rows) == 0:
        for g in gaps:
            g.note = (
                f"{len(base_rows)} complete weeks in the baseline; at least {MIN_BASELINE_WEEKS} are needed"
                if len(base_rows) < MIN_BASELINE_WEEKS
                else "no report in the baseline: nothing to expect from"
            )
        return gaps
    base_weeks = [weeks[i] for i in base_rows]
    seasonal = spans_two_years(base_weeks)

    origin = base_weeks[0].toordinal()

    def design(chosen: list[Any]) -> np.ndarray:
        columns = [np.ones(len(chosen))]
        if trend:
            columns.append(np.array([(w.toordinal() - origin) / 365.25 for w in chosen]))
        if seasonal:
            columns.extend(yearly_terms(chosen).T)
        return np.column_stack(columns)

    fit = fit_quasi_poisson([counts[i] for i in base_rows], design(base_weeks))
    total_gradient = np.zeros(len(fit.params))
    total_expected, total_observed, total_weeks = 0.0, 0, 0
    for g in gaps:
        rows = rows_of[g.period]
        if not rows:
            g.note = "no complete week in this period"
            continue
        x = design([weeks[i] for i in rows])
        mu = np.exp(x @ fit.params)
        gradient = (mu[:, None] * x).sum(axis=0)
        g.expected = float(mu.sum())
        half = Z95 * math.sqrt(
            float(gradient @ fit.covariance @ gradient) + fit.dispersion * g.expected
        )
        g.low, g.high = g.observed - g.expected - half, g.observed - g.expected + half
        if not seasonal:
            g.note = "no yearly term: the baseline spans less than two years"
        total_gradient += gradient
        total_expected += g.expected
        total_observed += g.observed
        total_weeks += len(rows)
    if total_weeks and len(gaps) > 1:
        net = Gap(key, "net", total_weeks, total_observed, total_expected)
        half = Z95 * math.sqrt(
            float(total_gradient @ fit.covariance @ total_gradient)
            + fit.dispersion * total_expected
        )
        net.low, net.high = (
            total_observed - total_expected - half,
            total_observed - total_expected + half,
        )
        net.note = "every period after the baseline together: a shortfall not caught up"
        gaps.append(net)
    return gaps
