"""Emerging-threat alerts: the weekly check run over the series that matter, stored with evidence.

The check reads every report (an installation-wide view), so each alert
carries the strictest marking among the reports its series counts: an
agency sees an alert only when that marking is ``clear``; administrators
(intelligence analysts of the installation) see them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from veille.analytics.changes import CHECK_HISTORY_WEEKS, check_band
from veille.analytics.models import TrendAlert
from veille.analytics.series import OneSeries, SeriesQuery, SeriesResult, period_start, series
from veille.store.db import Database
from veille.store.types import utcnow
from veille.vocab import Marking

SCANS: tuple[tuple[str, ...], ...] = ((), ("country",), ("category",), ("country", "category"))
"""The splits the check scans: all reports, each country, each category, each pair."""
MIN_MEAN_PER_WEEK = 5.0
"""Series with fewer reports per week than this in their history are not checked."""


@dataclass
class CheckSummary:
    week: date
    series_checked: int
    alerts: list[TrendAlert]

    def as_dict(self) -> dict[str, Any]:
        return {
            "week": self.week.isoformat(),
            "series_checked": self.series_checked,
            "new_alerts": [alert_dict(a) for a in self.alerts],
        }


def last_complete_week(now: datetime | None = None) -> date:
    """The Monday of the last week that has ended."""
    today = (now or utcnow()).date()
    return period_start(today, "w") - timedelta(days=7)


def _series_key(by: tuple[str, ...], key: tuple[str, ...]) -> str:
    return ",".join(f"{d}={v}" for d, v in zip(by, key, strict=True)) or "all reports"


def run_check(database: Database, week: date | None = None) -> CheckSummary:
    """Check ``week`` (default: the last complete one) in every scanned split; store new alerts."""
    checked_week = period_start(week, "w") if week else last_complete_week()
    since = checked_week - timedelta(days=7 * CHECK_HISTORY_WEEKS)
    found: list[tuple[str, Any, str, tuple[str, ...]]] = []
    with database.session() as session:
        for by in SCANS:
            result = series(session, SeriesQuery(since=since, until=checked_week, by=by), None)
            for one in result.series:
                history = one.counts[:-1]
                if not history or sum(history) / len(history) < MIN_MEAN_PER_WEEK:
                    continue
                found.append((_series_key(by, one.key), one, one.marking, by))
    # One adjustment over every series checked this week.
    combined = _combined_result(found, checked_week, since)
    checks = check_band(combined)
    new_alerts: list[TrendAlert] = []
    with database.session() as session:
        for (series_key, one, marking, _by), check in zip(found, checks, strict=True):
            if check.direction is None:
                continue
            exists = session.scalar(
                select(TrendAlert.id).where(
                    TrendAlert.series_key == series_key, TrendAlert.week == checked_week
                )
            )
            if exists is not None:
                continue
            alert = TrendAlert(
                series_key=series_key,
                week=checked_week,
                direction=check.direction,
                observed=check.observed,
                expected=float(check.expected or 0),
                lower=float(check.lower or 0),
                upper=float(check.upper or 0),
                p_value=float(check.p_value or 0),
                marking=marking,
                evidence={
                    "model": "quasi-Poisson GLM with a trend (and a yearly term with two years)",
                    "history_from": since.isoformat(),
                    "history_weeks": check.history_weeks,
                    "dispersion": check.dispersion,
                    "q_value": check.q_value,
                    "series_checked": len(found),
                    "counts": one.counts,
                },
            )
            session.add(alert)
            new_alerts.append(alert)
        session.flush()
        session.expunge_all()
    return CheckSummary(checked_week, len(found), new_alerts)


def _combined_result(
    found: list[tuple[str, Any, str, tuple[str, ...]]], week: date, since: date
) -> Any:

    periods = []
    current = period_start(since, "w")
    while current <= week:
        periods.append(current)
        current += timedelta(days=7)
    combined = SeriesResult(SeriesQuery(since=since, until=week), periods)
    combined.series = [OneSeries((), one.counts, marking) for _key, one, marking, _by in found]
    return combined


def alert_dict(alert: TrendAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "series": alert.series_key,
        "week": alert.week.isoformat(),
        "direction": alert.direction,
        "observed": alert.observed,
        "expected": round(alert.expected, 2),
        "band_low": alert.lower,
        "band_high": alert.upper,
        "p_value": alert.p_value,
        "marking": alert.marking,
        "created_at": alert.created_at.isoformat() if alert.created_at else None,
    }


def list_alerts(session: Session, agency_id: int | None, limit: int = 100) -> list[TrendAlert]:
    """The newest alerts ``agency_id`` may read (``None``: an administrator reads all)."""
    query = select(TrendAlert).order_by(TrendAlert.week.desc(), TrendAlert.id.desc()).limit(limit)
    if agency_id is not None:
        query = query.where(TrendAlert.marking == Marking.CLEAR.value)
    return list(session.scalars(query))
