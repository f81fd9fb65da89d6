"""What happens to newly stored reports, in the order of DESIGN.md's flow.

After an import (or any intake) the new reports' media are matched against
the hash lists and each other, and the reports are scored, so that a report
is triaged with what its media revealed. Each step is the public function of
its capability; this module only chains them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from veille.store.db import Database


@dataclass(frozen=True)
class PipelineSummary:
    """What the steps after storage did."""

    media_items_matched: int
    known_matches: int
    reports_scored: int


def process_new_reports(database: Database, report_ids: Collection[int]) -> PipelineSummary:
    """Match the media of ``report_ids``, then score (or re-score) those reports."""
    if not report_ids:
        return PipelineSummary(0, 0, 0)
    from veille.media import match_reports
    from veille.triage.scoring import rescore_reports

    matched = match_reports(database, report_ids)
    with database.session() as session:
        scored = rescore_reports(session, report_ids, trigger="match")
    return PipelineSummary(matched.media_items, matched.known_matches, scored.scored)
