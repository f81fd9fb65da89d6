"""Accounts' task of the job system: ``accounts.purge_sessions``, hourly.

Expired sessions are refused when they are presented; this removes the rows
of those never presented again.
"""

from __future__ import annotations

from veille.accounts.service import purge_sessions
from veille.core.jobs import PRIORITY_NORMAL, TaskSpec
from veille.store.db import Database


def run_purge(database: Database) -> int:
    """Delete the expired sessions; returns how many."""
    with database.session() as session:
        return purge_sessions(session)


TASKS = [
    TaskSpec(
        "accounts.purge_sessions",
        run_purge,
        retries=1,
        retry_delay_s=60,
        priority=PRIORITY_NORMAL,
        every_minutes=60,
    )
]
