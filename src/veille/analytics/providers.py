"""Provider response: how fast take-down notices were acted on, per provider and period.

The notices themselves belong to the casework capability; this module takes
their times and computes, per provider (and for all providers together) and
per named period (the period the notice was *sent* in, each provider over
its own country's dates where the periods file gives them):

- notices, removed, still open, and overdue (open for longer than
  ``overdue_days`` at ``as_of``);
- the median and 90th percentile of the hours to removal among the removed
  notices (what a provider's own report would say);
- the same median estimated with the notices still open counted as censored
  (Kaplan–Meier): notices that are never acted on lengthen it, where a median
  of the removed ones alone would hide them;
- the share removed within 24 hours and within 7 days of being sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from veille.analytics.periods import PeriodSet
from veille.store.reports import Viewer
from veille.store.types import utcnow

ALL_PROVIDERS = "all providers"


@dataclass(frozen=True)
class NoticeTimes:
    """What provider statistics need of one notice."""

    provider: str
    provider_country: str | None
    sent_at: datetime
    removed_at: datetime | None


def _period_of(periods: PeriodSet, country: str | None, sent: datetime) -> str | None:
    day = sent.date()
    for period in periods.for_country(country):
        if period.start <= day <= period.end:
            return period.name
    return None


def kaplan_meier_quantile(
    durations: list[float], observed: list[bool], quantile: float
) -> float | None:
    """The time by which ``quantile`` of the notices are removed, open ones censored; None if never reached."""
    if not durations:
        return None
    order = np.argsort(durations, kind="stable")
    at_risk = len(durations)
    survival = 1.0
    index = 0
    times = np.asarray(durations)[order]
    events = np.asarray(observed)[order]
    while index < len(times):
        time = times[index]
        same = index
        removed = 0
        while same < len(times) and times[same] == time:
            removed += int(events[same])
            same += 1
        if removed:
            survival *= 1 - removed / at_risk
            if 1 - survival >= quantile:
                return float(time)
        at_risk -= same - index
        index = same
    return None


def provider_response(
    notices: Iterable[NoticeTimes],
    periods: PeriodSet,
    as_of: datetime,
    overdue_days: float = 7.0,
) -> list[dict[str, Any]]:
    """One row per provider and period (and for all providers together), as listed above."""
    groups: dict[tuple[str, str], list[NoticeTimes]] = defaultdict(list)
    for notice in notices:
        period = _period_of(periods, notice.provider_country, notice.sent_at)
        if period is None:
            continue
        groups[(notice.provider, period)].append(notice)
        groups[(ALL_PROVIDERS, period)].append(notice)
    order = {name: i for i, name in enumerate(periods.names)}
    rows = []
    for (provider, period), members in sorted(
        groups.items(),
        key=lambda item: (item[0][0] != ALL_PROVIDERS, item[0][0], order[item[0][1]]),
    ):
        removed_hours = [
            (n.removed_at - n.sent_at).total_seconds() / 3600 for n in members if n.removed_at
        ]
        durations = [((n.removed_at or as_of) - n.sent_at).total_seconds() / 3600 for n in members]
        observed = [n.removed_at is not None for n in members]
        still_open = [n for n in members if n.removed_at is None]
        overdue = sum(
            1 for n in still_open if (as_of - n.sent_at).total_seconds() > overdue_days * 86400
        )
        km_median = kaplan_meier_quantile(durations, observed, 0.5)
        rows.append(
            {
                "provider": provider,
                "period": period,
                "notices": len(members),
                "removed": len(removed_hours),
                "open": len(still_open),
                "overdue": overdue,
                "median_hours": round(float(np.median(removed_hours)), 1)
                if removed_hours
                else None,
                "p90_hours": round(float(np.percentile(removed_hours, 90)), 1)
                if removed_hours
                else None,
                "median_hours_with_open": None if km_median is None else round(km_median, 1),
                "removed_within_24h": round(sum(h <= 24 for h in removed_hours) / len(members), 3),
                "removed_within_7d": round(sum(h <= 168 for h in removed_hours) / len(members), 3),
            }
        )
    return rows


def provider_statistics(
    session: Session,
    viewer: Viewer,
    periods: PeriodSet,
    provider: str | None = None,
    overdue_days: float = 7.0,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """Provider response from the casework capability's notices that ``viewer`` may see."""
    from veille.casework.notices import notice_rows, provider_countries

    countries = provider_countries(session)
    rows = notice_rows(session, None if viewer.agency_id is None else viewer, provider=provider)
    notices = [
        NoticeTimes(row.provider, countries.get(row.provider), row.sent_at, row.removed_at)
        for row in rows
        if row.sent_at is not None
    ]
    return provider_response(notices, periods, as_of or utcnow(), overdue_days)
