"""The media worker's match step: reports whose files are all hashed, one process at a time.

The worker's thread runs it, or on PostgreSQL its low-priority child process
(:mod:`veille.intake.hashing_process`); several server processes take turns
under an advisory lock.
"""

from __future__ import annotations

from sqlalchemy import text

from veille.store.db import Database

# PostgreSQL advisory-lock key ("VEILLE" in ASCII) that serialises matching across processes.
MATCH_LOCK_KEY = 0x564549_4C4C45


def match_in_turn(database: Database, report_ids: list[int]) -> None:
    """Match ``report_ids`` against the hash lists and each other, taking turns on PostgreSQL."""
    from veille.media import match_reports

    if database.dialect != "postgresql":
        match_reports(database, report_ids)
        return
    # Matching refreshes content clusters that span reports; two server processes
    # matching at once collide on the same rows, so they take turns.
    with database.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MATCH_LOCK_KEY})
        try:
            match_reports(database, report_ids)
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MATCH_LOCK_KEY})
