"""The travel watch's scheduled work: purging expired watch-list entries (``travel.purge``)."""

from __future__ import annotations

from veille.casework.travel.watchlist import purge_expired
from veille.core.jobs import PRIORITY_NORMAL, TaskSpec
from veille.store.db import Database

PURGE_EVERY_MINUTES = 60
PURGE_ACTOR = "job:travel.purge"
"""The actor written to the audit log for scheduled purges."""


def purge_expired_entries(database: Database) -> int:
    """Delete the watch-list entries expired today (one audit event each); how many."""
    return len(purge_expired(database, PURGE_ACTOR))


TASKS = [
    TaskSpec(
        "travel.purge",
        purge_expired_entries,
        retries=3,
        retry_delay_s=60,
        # Nothing waits on it within the hour, so it may wait for a lull in the flow.
        priority=PRIORITY_NORMAL,
        every_minutes=PURGE_EVERY_MINUTES,
    )
]
"""``travel.purge``, every hour."""
