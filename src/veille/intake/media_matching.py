"""The media worker's match step: reports whose files are all hashed.

The worker's thread runs it, or on PostgreSQL its low-priority child process
(:mod:`veille.intake.hashing_process`). Matching takes its own turn across
processes (:func:`veille.media.matching.match_reports` holds a lock for
its transaction).
"""

from __future__ import annotations

from veille.store.db import Database


def match_in_turn(database: Database, report_ids: list[int]) -> list[int]:
    """Match ``report_ids``; returns the other reports whose content evidence changed."""
    from veille.media import match_reports

    return sorted(match_reports(database, report_ids).changed_reports)
