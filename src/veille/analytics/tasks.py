"""Analytics' background work on the job system: the rollup sweep and the weekly check."""

from __future__ import annotations

import logging

from veille.core.jobs import TaskSpec
from veille.store.db import Database

log = logging.getLogger(__name__)

ROLLUP_SWEEP_MINUTES = 10
CHECK_EVERY_MINUTES = 24 * 60
"""Daily: each run checks the last complete week, and a week already checked adds nothing."""


def sweep_rollups(database: Database) -> None:
    """Count reports a crash between the flow's steps left uncounted."""
    from veille.analytics.rollup import roll_up

    summary = roll_up(database)
    if summary.reports:
        log.info("trend rollups: %d reports counted by the sweep", summary.reports)


def weekly_check(database: Database) -> None:
    """Check the last complete week of every scanned series; store emerging-threat alerts."""
    from veille.analytics.alerts import run_check

    summary = run_check(database)
    if summary.alerts:
        log.warning(
            "trend check of the week of %s: %d new alerts", summary.week, len(summary.alerts)
        )


TASKS = [
    TaskSpec("analytics.rollup_sweep", sweep_rollups, every_minutes=ROLLUP_SWEEP_MINUTES),
    TaskSpec("analytics.weekly_check", weekly_check, every_minutes=CHECK_EVERY_MINUTES),
]
"""The rollup sweep (every 10 minutes) and the emerging-threat check (daily)."""
