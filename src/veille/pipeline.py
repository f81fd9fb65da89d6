"""What happens to newly stored reports, in the order of DESIGN.md's flow.

After a bulk import the new reports' media (whose hashes the file gave) are
matched against the hash lists and each other, then the steps of
:data:`veille.flow.ORDER` (link, score) run in this thread, so that the
import shows their progress and its reports are in their queues when it
returns. Live channels queue the same steps instead (:func:`veille.flow.reports_stored`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from veille.store.db import Database

StepProgress = Callable[[str, int, int | None], None]
"""Called as ``(step, done, total)``; each step starts at 0 and ends at ``total``."""


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
    """Match the media of ``report_ids``, then link and score them (and the reports they join).

    On 100,000 reports these steps take minutes; ``on_progress`` hears each
    step (the media capability's phases, then scoring) as it advances.
    """
    if not report_ids:
        return PipelineSummary(0, 0, 0)
    from veille.media import match_reports

    matched = match_reports(database, report_ids, on_progress=on_progress)
    from veille.flow import run_now

    # The flow's own steps, in its order, here rather than queued: the import shows
    # their progress, and its reports are in their queues when the command returns.
    summaries = run_now(database, sorted(set(report_ids)), "match", on_progress)
    scoring = summaries.get("score")
    scored = 0 if scoring is None else scoring.scored
    return PipelineSummary(matched.media_items, matched.known_matches, scored)
