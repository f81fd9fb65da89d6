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


def test_with_trend_a_rise_that_builds_up_is_not_read_as_growth() -> None:
    """Reports grow 20 % a year; from the restrictions on, a rise builds up to ×3 a year later.

    The trend is the baseline's: each period's ratio is its level at its
    middle against that growth carried forward. A trend fitted on every week
    reads much of the rise, which goes on through the year after, as growth.
    """
    weeks = _weeks(124)
    periods = PeriodSet(
        (
            Period("baseline", MONDAY, MONDAY + timedelta(days=7 * 60 - 1)),
            Period(
                "restrictions", MONDAY + timedelta(days=7 * 60), MONDAY + timedelta(days=7 * 72 - 1)
            ),
            Period("after", MONDAY + timedelta(days=7 * 72), MONDAY + timedelta(days=7 * 124 - 1)),
        )
    )
    index = np.arange(124)
    growth = 1.2 ** (index * 7 / 365.25)
    rise = np.where(index < 60, 1.0, 3.0 ** ((index - 60) / 63))
    middle = {"restrictions": 3.0 ** (5.5 / 63), "after": 3.0 ** (37.5 / 63)}
    covered = {"restrictions": 0, "after": 0}
    estimates: dict[str, list[float]] = {"restrictions": [], "after": []}
    for seed in range(40):
        rng = np.random.default_rng(900 + seed)
        counts = _over_dispersed(rng, 60 * growth * rise)
        for c in compare(_result(weeks, counts), periods, trend=True).comparisons:
            assert c.rate_ratio is not None and c.low is not None and c.high is not None
            covered[c.period] += c.low <= middle[c.period] <= c.high
            estimates[c.period].append(c.rate_ratio)
    for name in ("restrictions", "after"):
        assert covered[name] >= 34, name  # 95 % intervals: about 38 of 40
        assert abs(float(np.median(estimates[name])) / middle[name] - 1) < 0.05, name


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


def test_an_effect_so_clear_its_p_value_is_zero_is_still_called() -> None:
    # At two million reports a doubling gives a p-value that underflows to 0.0;
    # it once counted as 1.0 (falsy) and the doubling was called "uncertain".
    counts = [10**9] * 100 + [2 * 10**9] * 12
    (c,) = compare(_result(_weeks(112), counts), PERIODS).comparisons
    assert c.p_value == 0.0 and c.q_value == 0.0
    assert c.verdict == "increase" and c.low is not None and c.low > 1.9


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


def test_seasonal_series_without_a_change_rarely_get_a_change_point() -> None:
    rng = np.random.default_rng(2026)
    weeks = _weeks(130)
    season = 1 + 0.1 * np.cos(2 * np.pi * np.arange(130) * 7 / 365.25)
    with_points = sum(
        1 for _ in range(60) if change_points(weeks, _over_dispersed(rng, 100 * season, 5.0))[0]
    )
    assert with_points <= 3  # at most 5 %


def test_a_ten_week_rise_of_half_is_found_where_it_starts() -> None:
    rng = np.random.default_rng(7)
    means = np.array([40.0] * 60 + [60.0] * 10 + [40.0] * 60)
    found = 0
    for _ in range(20):
        points, _note = change_points(_weeks(130), _over_dispersed(rng, means, 2.0))
        found += any(abs((p.week - _weeks(130)[60]).days) <= 14 for p in points)
    assert found >= 14


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


def _scenario_shape(weeks: list[date], level: float) -> np.ndarray:
    # The synthetic scenario's shape: a ±10 % yearly cycle peaking in January, 8 % growth a year.
    day = np.array([w.timetuple().tm_yday for w in weeks])
    years = np.arange(len(weeks)) / 52.18
    return level * (1 + 0.1 * np.cos(2 * np.pi * (day - 15) / 365.25)) * 1.08**years


def test_with_a_trend_a_season_is_not_read_as_a_gap() -> None:
    # Fourteen months of baseline from January, then twelve weeks closed (×0.6) in
    # spring, when the season falls, and eight weeks of catch-up. A trend fitted
    # without a yearly term takes the winter's peak for growth and expects too
    # much: its catch-up intervals cover the planted one in about half the draws.
    from veille.analytics.gap import reporting_gap

    weeks = _weeks(82)
    periods = PeriodSet(
        (
            Period("baseline", weeks[0], weeks[62] - timedelta(days=1)),
            Period("closed", weeks[62], weeks[74] - timedelta(days=1)),
            Period("reopened", weeks[74], weeks[81] + timedelta(days=6)),
        )
    )
    normal = _scenario_shape(weeks, 100.0)
    means = normal.copy()
    means[62:74] *= 0.6
    deferred = 0.3 * normal[62:74].sum()
    means[74:] += deferred / 8
    planted = {
        "closed": means[62:74].sum() - normal[62:74].sum(),
        "reopened": deferred,
        "net": means[62:].sum() - normal[62:].sum(),
    }
    covered = {"closed": 0, "reopened": 0, "net": 0}
    for seed in range(40):
        rng = np.random.default_rng(700 + seed)
        result = reporting_gap(_result(weeks, _over_dispersed(rng, means)), periods, trend=True)
        for gap in result.gaps:
            assert gap.low is not None and gap.high is not None and not gap.note.startswith("no")
            covered[gap.period] += gap.low <= planted[gap.period] <= gap.high
    assert all(count >= 34 for count in covered.values()), covered


def test_a_pooled_gap_adds_the_countries_up_over_their_own_dates() -> None:
    # Three countries closed at different dates, each losing 40 % of its reports
    # while closed; one of them also has a baseline too short to expect from.
    from veille.analytics.gap import ALL_COUNTRIES, reporting_gap

    weeks = _weeks(90)
    starts = {"AA": 62, "BB": 66, "CC": 70}
    own = {
        code: (
            Period("closed", weeks[start], weeks[start + 10] - timedelta(days=1)),
            Period("reopened", weeks[start + 10], weeks[start + 18] - timedelta(days=1)),
        )
        for code, start in starts.items()
    }
    own["DD"] = (Period("baseline", weeks[0], weeks[1] + timedelta(days=6)),)
    periods = PeriodSet(
        (
            Period("baseline", weeks[0], weeks[62] - timedelta(days=1)),
            Period("closed", weeks[62], weeks[80] - timedelta(days=1)),
            Period("reopened", weeks[80], weeks[88] - timedelta(days=1)),
        ),
        own,
    )
    covered = {"closed": 0, "reopened": 0, "net": 0}
    for seed in range(40):
        rng = np.random.default_rng(1_100 + seed)
        counts, planted = [], {"closed": 0.0, "reopened": 0.0, "net": 0.0}
        for start in starts.values():
            normal = _scenario_shape(weeks, 20.0 + 10 * len(counts))
            means = normal.copy()
            means[start : start + 10] *= 0.6
            means[start + 10 : start + 18] += 0.3 * normal[start : start + 10].sum() / 8
            planted["closed"] -= 0.4 * normal[start : start + 10].sum()
            planted["reopened"] += 0.3 * normal[start : start + 10].sum()
            counts.append(_over_dispersed(rng, means))
        planted["net"] = planted["closed"] + planted["reopened"]
        counts.append([3] * 90)
        result = _result(weeks, *counts, by=("country",))
        for one, code in zip(result.series, ["AA", "BB", "CC", "DD"], strict=True):
            one.key = (code,)
        gaps = reporting_gap(result, periods, trend=True, pooled=True).gaps
        rows = {(g.key, g.period): g for g in gaps}
        assert {key for key, _period in rows} == {("AA",), ("BB",), ("CC",), ("DD",), ("all",)}
        assert rows[("DD",), "closed"].expected is None
        assert "baseline" in rows[("DD",), "closed"].note
        for period in covered:
            total = rows[(ALL_COUNTRIES,), period]
            assert total.low is not None and total.high is not None
            covered[period] += total.low <= planted[period] <= total.high
            # The total is the three countries' own rows added up.
            assert total.observed == sum(rows[(c,), period].observed for c in starts)
            assert total.expected == pytest.approx(
                sum(rows[(c,), period].expected or 0 for c in starts)
            )
    assert all(count >= 34 for count in covered.values()), covered
    with pytest.raises(ValueError, match="pooled"):
        reporting_gap(_result(weeks, [1] * 90), periods, pooled=True)


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


def test_pooling_countries_over_their_own_dates() -> None:
    # Two countries restricted eight weeks apart, both ×2 while restricted.
    weeks = _weeks(80)
    own = {
        "AA": (Period("restrictions", weeks[50], weeks[62] - timedelta(days=1)),),
        "BB": (Period("restrictions", weeks[58], weeks[70] - timedelta(days=1)),),
    }
    periods = PeriodSet(
        (
            Period("baseline", weeks[0], weeks[50] - timedelta(days=1)),
            Period("restrictions", weeks[50], weeks[70] - timedelta(days=1)),
        ),
        own,
    )
    covered = 0
    for seed in range(20):
        rng = np.random.default_rng(900 + seed)
        counts = []
        for country in ("AA", "BB"):
            period = own[country][0]
            means = np.array([60.0 if period.holds_week(w) else 30.0 for w in weeks])
            counts.append(_over_dispersed(rng, means))
        result = _result(weeks, *counts, by=("country",))
        result.series[0].key, result.series[1].key = ("AA",), ("BB",)
        (pooled,) = compare(result, periods, pooled=True).comparisons
        assert pooled.key == () and "pooled over 2 series" in pooled.note
        assert pooled.low is not None and pooled.high is not None
        covered += pooled.low <= 2.0 <= pooled.high
        assert pooled.verdict == "increase"
    assert covered >= 17
    with pytest.raises(ValueError, match="pooled"):
        compare(_result(weeks, [1] * 80), periods, pooled=True)
