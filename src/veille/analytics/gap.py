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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veille.analytics.compare import MIN_BASELINE_WEEKS, country_of
from veille.analytics.periods import PeriodSet
from veille.analytics.series import SeriesResult
from veille.analytics.stats import (
    Z95,
    fit_quasi_poisson,
    spans_a_year,
    spans_two_years,
    yearly_terms,
)

ALL_COUNTRIES = "all"
"""The country of a pooled gap's rows that add every country up."""


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
    result: SeriesResult,
    periods: PeriodSet,
    baseline: str | None = None,
    trend: bool = False,
    *,
    pooled: bool = False,
) -> GapResult:
    """Observed against expected reports per period (and ``net`` over them) for each series.

    ``pooled`` needs a result split by country: the countries of each
    remaining split are fitted together (a level each; the growth, the
    season and the dispersion shared), each over its own dates, and a row
    whose country is ``all`` adds them up with the covariance of the shared
    terms.
    """
    if result.query.grain != "week":
        raise ValueError("interval: the reporting gap uses weekly series")
    base_name = baseline or periods.names[0]
    if base_name not in periods.names:
        raise ValueError(
            f"baseline: {base_name!r} is not one of the periods ({', '.join(periods.names)})"
        )
    by = tuple(result.query.by)
    if pooled and "country" not in by:
        raise ValueError("pooled: split the series by country (--by country) to pool them")
    out = GapResult(by, base_name, result.query.describe(), result.marking)
    if pooled:
        position = by.index("country")
        groups: dict[tuple[str, ...], list[tuple[tuple[str, ...], Any]]] = {}
        for one in result.series:
            rest = one.key[:position] + one.key[position + 1 :]
            groups.setdefault(rest, []).append(
                (one.key, _Unit(one.counts, periods.for_country(one.key[position])))
            )
        for rest, members in sorted(groups.items()):
            total_key = (*rest[:position], ALL_COUNTRIES, *rest[position:])
            out.gaps.extend(
                _gaps_of(members, result.periods, base_name, trend, total_key=total_key)
            )
    else:
        for one in result.series:
            own = periods.for_country(country_of(one.key, by))
            out.gaps.extend(
                _gaps_of([(one.key, _Unit(one.counts, own))], result.periods, base_name, trend)
            )
    return out


@dataclass
class _Unit:
    """One series the baseline model fits, over its own periods (a country when pooled)."""

    counts: list[int]
    periods: Any


def _gaps_of(
    members: list[tuple[tuple[str, ...], _Unit]],
    weeks: list[Any],
    base_name: str,
    trend: bool,
    total_key: tuple[str, ...] | None = None,
) -> list[Gap]:
    names = [p.name for p in members[0][1].periods if p.name != base_name]
    rows: list[dict[str, list[int]]] = []
    gaps: list[list[Gap]] = []
    for key, unit in members:
        held = {p.name: [i for i, w in enumerate(weeks) if p.holds_week(w)] for p in unit.periods}
        rows.append(held)
        gaps.append(
            [
                Gap(key, name, len(held[name]), sum(unit.counts[i] for i in held[name]))
                for name in names
            ]
        )
    out = [g for own in gaps for g in own]
    # A unit with too short a baseline, or none of its reports in it, has nothing to expect from.
    live: list[int] = []
    for u, (_key, unit) in enumerate(members):
        base_rows = rows[u][base_name]
        if len(base_rows) < MIN_BASELINE_WEEKS:
            note = f"{len(base_rows)} complete weeks in the baseline; at least {MIN_BASELINE_WEEKS} are needed"
        elif sum(unit.counts[i] for i in base_rows) == 0:
            note = "no report in the baseline: nothing to expect from"
        else:
            live.append(u)
            continue
        for g in gaps[u]:
            g.note = note
    if not live:
        return out
    base_weeks = sorted({weeks[i] for u in live for i in rows[u][base_name]})
    seasonal = spans_two_years(base_weeks) or (trend and spans_a_year(base_weeks))
    origin = base_weeks[0].toordinal()

    def design(u: int, chosen: list[Any]) -> np.ndarray:
        columns = [np.full(len(chosen), 1.0 if u == v else 0.0) for v in live]
        if trend:
            columns.append(np.array([(w.toordinal() - origin) / 365.25 for w in chosen]))
        if seasonal:
            columns.extend(yearly_terms(chosen).T)
        return np.column_stack(columns)

    fit = fit_quasi_poisson(
        [members[u][1].counts[i] for u in live for i in rows[u][base_name]],
        np.vstack([design(u, [weeks[i] for i in rows[u][base_name]]) for u in live]),
    )

    def interval(gradient: np.ndarray, expected: float) -> float:
        return Z95 * math.sqrt(
            float(gradient @ fit.covariance @ gradient) + fit.dispersion * expected
        )

    totals = {name: _Sum(len(fit.params)) for name in [*names, "net"]}
    for u in live:
        unit_total = _Sum(len(fit.params))
        for g in gaps[u]:
            chosen = rows[u][g.period]
            if not chosen:
                g.note = "no complete week in this period"
                continue
            x = design(u, [weeks[i] for i in chosen])
            mu = np.exp(x @ fit.params)
            gradient = (mu[:, None] * x).sum(axis=0)
            g.expected = float(mu.sum())
            half = interval(gradient, g.expected)
            g.low, g.high = g.observed - g.expected - half, g.observed - g.expected + half
            if not seasonal:
                g.note = NO_SEASON
            for tally in (unit_total, totals[g.period], totals["net"]):
                tally.add(g, gradient)
        if unit_total.weeks and len(names) > 1:
            out.append(unit_total.gap(members[u][0], "net", interval, seasonal))
    if total_key is not None and len(live) > 1:
        for name in [*names, "net"] if len(names) > 1 else names:
            if totals[name].weeks:
                out.append(totals[name].gap(total_key, name, interval, seasonal))
    return out


NO_SEASON = "no yearly term: the baseline spans less than two years (one year with --trend)"
NET_NOTE = "every period after the baseline together: a shortfall not caught up"


class _Sum:
    """Observed and expected reports, and the expected count's gradient, added over gaps."""

    def __init__(self, size: int) -> None:
        self.gradient = np.zeros(size)
        self.expected = 0.0
        self.observed = 0
        self.weeks = 0

    def add(self, gap: Gap, gradient: np.ndarray) -> None:
        assert gap.expected is not None
        self.gradient += gradient
        self.expected += gap.expected
        self.observed += gap.observed
        self.weeks += gap.weeks

    def gap(
        self,
        key: tuple[str, ...],
        period: str,
        interval: Callable[[np.ndarray, float], float],
        seasonal: bool,
    ) -> Gap:
        made = Gap(key, period, self.weeks, self.observed, self.expected)
        half = interval(self.gradient, self.expected)
        made.low = self.observed - self.expected - half
        made.high = self.observed - self.expected + half
        made.note = NET_NOTE if period == "net" else ("" if seasonal else NO_SEASON)
        return made
