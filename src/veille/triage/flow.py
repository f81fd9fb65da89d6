"""Triage's place in the flow: scoring (and re-scoring) stored reports."""

from __future__ import annotations

from collections.abc import Callable, Collection

from veille.contract import FlowStep, StepResult
from veille.store.db import Database


def score_step(
    database: Database,
    report_ids: Collection[int],
    *,
    trigger: str = "new",
    on_progress: Callable[[int], None] | None = None,
) -> StepResult:
    """Score ``report_ids`` and every report that has no score yet; idempotent.

    Re-scored reports record ``trigger`` (``link``, ``match``). A report whose
    facts and policy are unchanged keeps its score; a new score puts the
    report in its owning agency's queue. The unscored reports are included so
    that a run interrupted between linking and scoring is made good by the
    next one.
    """
    from veille.triage.scoring import score_reports, unscored_report_ids

    with database.session() as session:
        ids = set(report_ids) | set(unscored_report_ids(session))
    summary = score_reports(database, ids, trigger=trigger, on_progress=on_progress)
    return StepResult(frozenset(ids), summary)


FLOW_STEPS = (
    FlowStep("score", score_step, "Score reports and put them in their agencies' queues."),
)
