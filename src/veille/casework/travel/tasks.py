"""The travel watch's scheduled work: matching new notices (``travel.match``) and purging
expired watch-list entries (``travel.purge``)."""

from __future__ import annotations

from veille.casework.travel.watchlist import purge_expired
from veille.core.jobs import PRIORITY_HIGH, PRIORITY_NORMAL, TaskSpec
from veille.store.db import Database

MATCH_EVERY_MINUTES = 5
PURGE_EVERY_MINUTES = 60
PURGE_ACTOR = "job:travel.purge"
"""The actor written to the audit log for scheduled purges."""
MATCH_ACTOR = "job:travel.match"


def match_new_notices(database: Database) -> int:
    """Match the notices not matched yet against today's watch list; how many alerts.

    Returns at once when every notice is matched (the index is built only for work).
    """
    from sqlalchemy import exists, select

    from veille.casework.travel.models import TravelNotice
    from veille.casework.travel.notices import match_notices
    from veille.store.reports import Viewer

    with database.session() as session:
        waiting = session.scalar(select(exists().where(TravelNotice.matched_at.is_(None))))
    if not waiting:
        return 0
    return match_notices(database, Viewer.administrator(MATCH_ACTOR)).alerts


def purge_expired_entries(database: Database) -> int:
    """Delete the watch-list entries expired today (one audit event each); how many."""
    return len(purge_expired(database, PURGE_ACTOR))


TASKS = [
    TaskSpec(
        "travel.match",
        match_new_notices,
        retries=3,
        retry_delay_s=30,
        # Alerts are for travel about to happen: at the flow's priority, so that a steady
        # flow of reports cannot hold them back (see docs/architecture.md).
        priority=PRIORITY_HIGH,
        every_minutes=MATCH_EVERY_MINUTES,
    ),
    TaskSpec(
        "travel.purge",
        purge_expired_entries,
        retries=3,
        retry_delay_s=60,
        # Nothing waits on it within the hour, so it may wait for a lull in the flow.
        priority=PRIORITY_NORMAL,
        every_minutes=PURGE_EVERY_MINUTES,
    ),
]
"""``travel.match`` every 5 minutes, ``travel.purge`` every hour."""
