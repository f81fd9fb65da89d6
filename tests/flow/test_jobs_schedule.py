"""Periodic tasks run when their period says, whatever its length."""

from __future__ import annotations

from datetime import datetime

import pytest

from veille.core.jobs import schedule_of


def _runs_in_a_day(every_minutes: int) -> int:
    schedule = schedule_of(every_minutes)
    return sum(
        schedule(datetime(2026, 12, 7, hour, minute)) for hour in range(24) for minute in range(60)
    )


def test_minutes_hours_and_days() -> None:
    assert _runs_in_a_day(10) == 144
    assert _runs_in_a_day(60) == 24
    assert _runs_in_a_day(360) == 4
    # Daily: once a day, not hourly as a minute field of */1440 would have it.
    assert _runs_in_a_day(1440) == 1


def test_periods_that_fit_no_schedule_are_refused() -> None:
    for minutes in (0, 7, 90, 1500):
        with pytest.raises(ValueError, match="every_minutes"):
            schedule_of(minutes)
