"""What happens to newly stored reports, in the order of DESIGN.md's flow.

After an import (or any intake) the new reports' media are matched against
the hash lists and each other, and the reports are scored, so that a report
is triaged with what its media revealed. Each step is the public function of
its capability; this module only chains them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from veille.store.db import Database

StepProgress = Callable[[str, int, int], None]
"""Called as ``(step, done, total)``; each step starts at 0 and ends at ``total``."""

SCORE_CHUNK = 2000


@dataclass(frozen=True)
class PipelineSummary:
    """What the steps after storage did."""

    media_items_matched: int
    known_matches: int
    reports_scored: int


def process_new_reports(
    database: Database,
    report_ids: Collection[int],
    on_progress: StepProgress | None = None,
) -> PipelineSummary:
    """Match the media of ``report_ids``, then score (or re-score) those reports.

    On 100,000 reports these steps take minutes; ``on_progress`` hears each
    step (the media capability's phases, then scoring) as it advances.
    """
    if not report_ids:
        return PipelineSummary(0, 0, 0)
    from veille.media import match_reports
    from veille.triage.scoring import rescore_reports

    matched = match_reports(database, report_ids, on_progress=on_progress)
    from veille.store.types import utcnow

    ids = sorted(set(report_ids))
    scored = 0
    as_of = utcnow()  # one "now" for every chunk, as one call would have
    with database.session() as session:
        for start in range(0, len(ids), SCORE_CHUNK):
            if on_progress is not None:
                on_progress("scoring reports", start, len(ids))
            chunk = ids[start : start + SCORE_CHUNK]
            scored += rescore_reports(session, chunk, trigger="match", as_of=as_of).scored
        if on_progress is not None:
            on_progress("scoring reports", len(ids), len(ids))
    return PipelineSummary(matched.media_items, matched.known_matches, scored)
