"""Provider response statistics on notices with known answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from veille.analytics.periods import Period, PeriodSet
from veille.analytics.providers import NoticeTimes, kaplan_meier_quantile, provider_response

PERIODS = PeriodSet(
    (
        Period("before", date(2020, 1, 1), date(2020, 2, 29)),
        Period("during", date(2020, 3, 1), date(2020, 5, 31)),
    ),
    {
        "DE": (
            Period("before", date(2020, 1, 1), date(2020, 3, 31)),
            Period("during", date(2020, 4, 1), date(2020, 5, 31)),
        )
    },
)
AS_OF = datetime(2020, 7, 1, tzinfo=UTC)


def _notice(provider: str, country: str, sent: str, hours: float | None) -> NoticeTimes:
    at = datetime.fromisoformat(sent).replace(tzinfo=UTC)
    return NoticeTimes(
        provider, country, at, None if hours is None else at + timedelta(hours=hours)
    )


def test_medians_percentiles_shares_and_overdue() -> None:
    notices = [
        _notice("Host A", "FR", "2020-01-10T00:00:00", hours)
        for hours in (2, 4, 6, 8, 10, 12, 14, 16, 18, 200)
    ] + [
        _notice("Host A", "FR", "2020-03-10T00:00:00", 30),
        _notice("Host A", "FR", "2020-03-11T00:00:00", None),  # never removed: overdue
        _notice("Host A", "FR", "2020-06-29T00:00:00", None),  # open, in no named period
        # Sent on 10 March: before for a provider in DE, whose restrictions start in April.
        _notice("Host B", "DE", "2020-03-10T00:00:00", 5),
    ]
    rows = {(r["provider"], r["period"]): r for r in provider_response(notices, PERIODS, AS_OF)}
    before = rows[("Host A", "before")]
    assert (before["notices"], before["removed"], before["median_hours"]) == (10, 10, 11.0)
    assert before["p90_hours"] == 36.2  # numpy's linear interpolation between 18 and 200
    assert before["removed_within_24h"] == 0.9 and before["removed_within_7d"] == 0.9
    during = rows[("Host A", "during")]
    assert (during["removed"], during["open"], during["overdue"]) == (1, 1, 1)
    assert during["median_hours"] == 30.0
    assert rows[("Host B", "before")]["notices"] == 1
    assert rows[("all providers", "before")]["notices"] == 11


def test_open_notices_lengthen_the_censored_median() -> None:
    # Four removed quickly, six never: half are never removed, so no median is reached.
    assert (
        kaplan_meier_quantile([1, 2, 3, 4, 50, 50, 50, 50, 50, 50], [True] * 4 + [False] * 6, 0.5)
        is None
    )
    # Two of four removed by hour 2; the two open ones are censored later on.
    assert kaplan_meier_quantile([1, 2, 10, 10], [True, True, False, False], 0.5) == 2.0
    assert kaplan_meier_quantile([], [], 0.5) is None
