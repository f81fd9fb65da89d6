"""Casework's tasks of the job system: following take-down notices up (``takedown.follow_up``).

One scheduled task, no loop of casework's own: every
:data:`FOLLOW_UP_EVERY_MINUTES` a consumer sends the notices never sent,
sends again those not removed after ``VEILLE_TAKEDOWN_RENOTIFY_HOURS`` and
escalates those overdue (:func:`veille.casework.follow_up.follow_up_notices`).
Creating a notice requests a run at once (:func:`request_follow_up`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from veille.casework.follow_up import follow_up_notices
from veille.core.jobs import PRIORITY_NORMAL, TaskSpec
from veille.store.db import Database

log = logging.getLogger(__name__)

TASK = "takedown.follow_up"
FOLLOW_UP_EVERY_MINUTES = 15


@contextlib.contextmanager
def one_sender(database: Database) -> Iterator[None]:
    """Hold the one right to send notices of ``database`` (across every consumer and command).

    Two runs at once would both read a notice as due and send it twice; the
    job system's exclusive section (an advisory lock on PostgreSQL, a file
    lock on SQLite) is released even when its holder is killed.
    """
    from veille.flow import job_system

    with job_system(database).exclusive(TASK):
        yield


def run_follow_up(database: Database) -> int:
    """The task: one follow-up run at the current time; returns the notices it acted on."""
    from veille.flow import job_system

    # A request made from here on queues the next run (this one may miss its notice).
    job_system(database).start_requested(TASK)
    with one_sender(database):
        summary = follow_up_notices(database)
    if summary.sent or summary.renotified or summary.failed or summary.escalated:
        log.info("take-down follow-up: %s", summary.describe())
    return summary.sent + summary.renotified + summary.failed + summary.escalated


def request_follow_up(database: Database) -> None:
    """Ask the job system for a follow-up run now (a notice was created)."""
    from veille.flow import job_system

    try:
        job_system(database).request(TASK)
    except Exception:
        log.exception("queueing the take-down follow-up failed; the schedule sends the notice")


TASKS = [
    TaskSpec(
        TASK,
        run_follow_up,
        retries=3,
        retry_delay_s=60,
        priority=PRIORITY_NORMAL,
        every_minutes=FOLLOW_UP_EVERY_MINUTES,
    )
]
"""``takedown.follow_up``, every 15 minutes and on request."""
