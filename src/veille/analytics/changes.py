"""Change points in a series, and the weekly check for series leaving their expected band.

Change points: the weekly counts are put on a scale where Poisson noise has
unit variance (Anscombe: ``2·sqrt(x + 3/8)``), divided by the noise level
estimated from week-to-week differences (so over-dispersion is allowed for),
and segmented by ``ruptures``' kernel change-point search with a linear
kernel (the squared-error cost, PELT in compiled code) and a penalty of
``PENALTY_PER_LOG_WEEK × log(weeks)``. A series with no change gives no
change point; a short series says so.

The weekly check fits the weeks before the one checked (up to a year, with a
trend, and a yearly term when two years are there) with a quasi-Poisson GLM,
predicts the checked week, and flags it when the count falls outside the
central 99 % of a negative binomial with that mean and dispersion; across
the series scanned in one check the tail p-values are adjusted together
(Benjamini–Hochberg) and only those under ``ALERT_Q`` become alerts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from veille.analytics.series import SeriesResult
from veille.analytics.stats import (
    benjamini_hochberg,
    count_band,
    count_tail_p,
    fit_quasi_poisson,
    spans_two_years,
    yearly_terms,
)

MIN_WEEKS = 12
"""Fewer weeks than this are too short to segment or to predict from."""
MIN_SEGMENT_WEEKS = 4
PENALTY_PER_LOG_WEEK = 4.0
"""The lowest penalty (in steps of 0.5) under which 2.5-year weekly series with no change
(negative binomial, 20–300 a week, with and without a ±10 % yearly cycle; 150 draws each)
show a change point in at most 5 % of cases: 2 % at most with 4.0, 14 % with 3.0. A lower
penalty finds short episodes (a ten-week rise of half) that 5.0 missed."""
CHECK_HISTORY_WEEKS = 52
ALERT_Q = 0.01


@dataclass
class ChangePoint:
    """Where a series' level changes: the first week of the new level."""

    week: date
    mean_before: float
    mean_after: float

    @property
    def ratio(self) -> float | None:
        return None if self.mean_before == 0 else self.mean_after / self.mean_before

    def as_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "week": self.week.isoformat(),
            "mean_before": round(self.mean_before, 2),
            "mean_after": round(self.mean_after, 2),
            "ratio": None if ratio is None else round(ratio, 3),
        }


@dataclass
class SeriesChanges:
    key: tuple[str, ...]
    weeks: int
    points: list[ChangePoint] = field(default_factory=list)
    note: str = ""


def _noise_level(signal: np.ndarray) -> float:
    differences = np.diff(signal)
    if len(differences) == 0:
        return 1.0
    mad = float(np.median(np.abs(differences - np.median(differences))))
    return max(mad / 0.6745 / math.sqrt(2), 1.0)


def change_points(weeks: list[date], counts: list[int]) -> tuple[list[ChangePoint], str]:
    """The change points of one weekly series, or none and why."""
    import ruptures

    if sum(counts) == 0:
        return [], "no reports"
    # A series starts at its first report: the empty weeks before it are not a level.
    first = next(i for i, count in enumerate(counts) if count)
    weeks, counts = weeks[first:], counts[first:]
    if len(counts) < MIN_WEEKS:
        return [], f"{len(counts)} weeks: at least {MIN_WEEKS} are needed to find change points"
    values = np.asarray(counts, dtype=float)
    signal = 2 * np.sqrt(values + 3 / 8)
    signal = signal / _noise_level(signal)
    algorithm = ruptures.KernelCPD(kernel="linear", min_size=MIN_SEGMENT_WEEKS).fit(signal)
    ends = algorithm.predict(pen=PENALTY_PER_LOG_WEEK * math.log(len(counts)))
    points = []
    starts = [0, *ends[:-1]]
    for index in range(1, len(starts)):
        before = values[starts[index - 1] : starts[index]]
        after = values[starts[index] : ends[index]]
        points.append(ChangePoint(weeks[starts[index]], float(before.mean()), float(after.mean())))
    return points, ""


def series_changes(result: SeriesResult) -> list[SeriesChanges]:
    """Change points of every series of a weekly ``result``."""
    if result.query.grain != "week":
        raise ValueError("interval: change points are found in weekly series")
    found = []
    for one in result.series:
        points, note = change_points(result.periods, one.counts)
        found.append(SeriesChanges(one.key, len(one.counts), points, note))
    return found


@dataclass
class BandCheck:
    """The checked week of one series against what its history predicts."""

    key: tuple[str, ...]
    week: date
    observed: int
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    dispersion: float | None = None
    history_weeks: int = 0
    note: str = ""

    @property
    def direction(self) -> str | None:
        if self.q_value is None or self.q_value >= ALERT_Q or self.expected is None:
            return None
        return "above" if self.observed > self.expected else "below"

    def as_dict(self, by: tuple[str, ...]) -> dict[str, Any]:
        def rounded(value: float | None, digits: int = 2) -> float | None:
            return None if value is None else round(value, digits)

        return {
            **dict(zip(by, self.key, strict=True)),
            "week": self.week.isoformat(),
            "observed": self.observed,
            "expected": rounded(self.expected),
            "band_low": rounded(self.lower),
            "band_high": rounded(self.upper),
            "p_value": rounded(self.p_value, 6),
            "q_value": rounded(self.q_value, 6),
            "history_weeks": self.history_weeks,
            "alert": self.direction,
            "note": self.note,
        }


def check_band(result: SeriesResult) -> list[BandCheck]:
    """Check the last week of every series of a weekly ``result`` against its history."""
    checks: list[BandCheck] = []
    if not result.periods:
        return checks
    for one in result.series:
        checks.append(_check_one(one.key, result.periods, one.counts))
    tested = [c for c in checks if c.p_value is not None]
    for check, q_value in zip(
        tested,
        benjamini_hochberg([1.0 if c.p_value is None else c.p_value for c in tested]),
        strict=True,
    ):
        check.q_value = q_value
    return checks


def _check_one(key: tuple[str, ...], weeks: list[date], counts: list[int]) -> BandCheck:
    history_weeks = weeks[:-1][-CHECK_HISTORY_WEEKS:]
    history = counts[:-1][-CHECK_HISTORY_WEEKS:]
    # A series starts at its first report: the empty weeks before it are not observations.
    first = next((i for i, count in enumerate(history) if count), len(history))
    history_weeks, history = history_weeks[first:], history[first:]
    check = BandCheck(key, weeks[-1], counts[-1], history_weeks=len(history))
    if len(history) < MIN_WEEKS:
        check.note = f"{len(history)} weeks of history: at least {MIN_WEEKS} are needed"
        return check
    if sum(history) == 0:
        check.note = "no reports in the history"
        return check
    all_weeks = [*history_weeks, weeks[-1]]
    trend = np.arange(len(all_weeks), dtype=float) / len(all_weeks)
    design = np.column_stack([np.ones(len(all_weeks)), trend])
    if spans_two_years(history_weeks):
        design = np.column_stack([design, yearly_terms(all_weeks)])
    fit = fit_quasi_poisson(history, design[:-1])
    expected = float(math.exp(float(design[-1] @ fit.params)))
    check.expected, check.dispersion = expected, fit.dispersion
    check.lower, check.upper = count_band(expected, fit.dispersion)
    check.p_value = count_tail_p(counts[-1], expected, fit.dispersion)
    return check
