"""The comparison, change-point and band models on series with known answers."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from veille.analytics.changes import change_points, check_band
from veille.analytics.compare import compare
from veille.analytics.periods import Period, PeriodSet
from veille.analytics.series import OneSeries, SeriesQuery, SeriesResult
from veille.analytics.stats import benjamini_hochberg

MONDAY = date(2018, 1, 1)


def _weeks(n: int) -> list[date]:
    return [MONDAY + timedelta(days=7 * i) for i in range(n)]


def _over_dispersed(
    rng: np.random.Generator, means: np.ndarray, dispersion: float = 2.0
) -> list[int]:
    size = means / (dispersion - 1)
    return [int(v) for v in rng.negative_binomial(size, size / (size + means))]


def _result(weeks: list[date], *series: list[int], by: tuple[str, ...] = ()) -> SeriesResult:
    result = SeriesResult(SeriesQuery(by=by), weeks)
    result.series = [OneSeries((f"s{i}",) if by else (), counts) for i, counts in enumerate(series)]
    return result


PERIODS = PeriodSet(
    (
        Period("baseline", MONDAY, MONDAY + timedelta(days=7 * 100 - 1)),
        Period(
            "restrictions", MONDAY + timedelta(days=7 * 100), MONDAY + timedelta(days=7 * 112 - 1)
        ),
    )
)


@pytest.mark.parametrize("factor", [0.5, 1.0, 1.8])
def test_the_interval_covers_the_planted_factor(factor: float) -> None:
    covered, called = 0, []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        means = np.array([40.0] * 100 + [40.0 * factor] * 12)
        result = compare(_result(_weeks(112), _over_dispersed(rng, means)), PERIODS)
        (c,) = result.comparisons
        assert c.low is not None and c.high is not None
        covered += c.low <= factor <= c.high
        called.append(c.verdict)
    assert covered >= 34  # 95 % intervals: about 38 of 40
    expected = {0.5: "decrease", 1.0: None, 1.8: "increase"}[factor]
    if expected is None:
        assert called.count("increase") + called.count("decrease") <= 4
    else:
        assert called.count(expected) >= 38


def test_a_yearly_season_is_not_read_as_an_effect() -> None:
    # A season that peaks where the compared weeks fall: without a yearly term
    # this series would show an increase.
    weeks = _weeks(112)
    season = np.array(
        [1 + 0.5 * np.sin(2 * np.pi * (w.timetuple().tm_yday + 3) / 365.25) for w in weeks]
    )
    wrongly_called = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        result = compare(_result(weeks, _over_dispersed(rng, 40 * season)), PERIODS)
        (c,) = result.comparisons
        assert c.seasonal
        wrongly_called += c.verdict in ("increase", "decrease")
    assert wrongly_called <= 2


def test_a_series_too_short_says_so() -> None:
    short = PeriodSet(
        (
            Period("baseline", MONDAY, MONDAY + timedelta(days=20)),
            Period("after", MONDAY + timedelta(days=21), MONDAY + timedelta(days=80)),
        )
    )
    (c,) = compare(_result(_weeks(12), [5] * 12), short).comparisons
    assert c.verdict == "too short" and "baseline" in c.note and c.rate_ratio is None


def test_many_series_are_adjusted_together() -> None:
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    # Ranked 0.01, 0.03, 0.04, 0.5: p × 4 / rank, then the running minimum from the top.
    assert adjusted == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_no_change_gives_no_change_point_and_a_step_gives_one_near_it() -> None:
    false_alarms, near = 0, 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        flat, _ = change_points(_weeks(80), _over_dispersed(rng, np.full(80, 30.0)))
        false_alarms += bool(flat)
        step = _over_dispersed(rng, np.array([30.0] * 50 + [60.0] * 30))
        points, _ = change_points(_weeks(80), step)
        near += any(abs((p.week - _weeks(80)[50]).days) <= 14 for p in points)
    assert false_alarms <= 2
    assert near >= 27


def test_a_short_series_has_no_change_points_and_says_why() -> None:
    points, note = change_points(_weeks(6), [3, 4, 3, 5, 4, 30])
    assert points == [] and "at least" in note


def test_the_band_flags_a_spike_and_not_an_ordinary_week() -> None:
    rng = np.random.default_rng(7)
    history = _over_dispersed(rng, np.full(60, 30.0))
    spiked = _result(_weeks(61), [*history, 140], [*history, 31], by=("country",))
    spike, ordinary = check_band(spiked)
    assert spike.direction == "above" and spike.lower is not None and spike.upper is not None
    assert spike.upper < 140
    assert ordinary.direction is None


def test_the_reporting_gap_covers_a_planted_shortfall_and_catch_up() -> None:
    from veille.analytics.gap import reporting_gap

    periods = PeriodSet(
        (
            Period("baseline", MONDAY, MONDAY + timedelta(days=7 * 60 - 1)),
            Period("closed", MONDAY + timedelta(days=7 * 60), MONDAY + timedelta(days=7 * 70 - 1)),
            Period(
                "reopened", MONDAY + timedelta(days=7 * 70), MONDAY + timedelta(days=7 * 80 - 1)
            ),
        )
    )
    covered = {"closed": 0, "reopened": 0, "net": 0}
    for seed in range(40):
        rng = np.random.default_rng(500 + seed)
        # 20 a week; 10 a week while closed (-100), 25 a week after (+50): 50 never made.
        means = np.array([20.0] * 60 + [10.0] * 10 + [25.0] * 10)
        result = reporting_gap(_result(_weeks(80), _over_dispersed(rng, means)), periods)
        planted = {"closed": -100, "reopened": 50, "net": -50}
        for gap in result.gaps:
            assert gap.low is not None and gap.high is not None
            covered[gap.period] += gap.low <= planted[gap.period] <= gap.high
    assert all(count >= 34 for count in covered.values()), covered


def test_a_gap_without_baseline_weeks_says_so() -> None:
    from veille.analytics.gap import reporting_gap

    periods = PeriodSet(
        (
            Period("baseline", MONDAY, MONDAY + timedelta(days=13)),
            Period("after", MONDAY + timedelta(days=14), MONDAY + timedelta(days=69)),
        )
    )
    (gap,) = reporting_gap(_result(_weeks(10), [4] * 10), periods).gaps
    assert gap.expected is None and "baseline" in gap.note
