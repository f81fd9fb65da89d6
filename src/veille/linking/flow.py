"""Linking's place in the flow: its step, and the seam to re-scoring.

Linking never imports triage. When a linking run changes the clusters of
reports, their evidence changed and they are scored again by the flow's
``score`` step, found through the contract (:func:`veille.contract.flow_step`):
queued by :mod:`veille.flow` for live reports, run at once by ``veille link``
and ``POST /api/v1/link`` (:func:`rescore_now`), which print its counts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from veille.contract import FlowStep, StepResult, flow_step
from veille.store.db import Database


def link_step(
    database: Database,
    report_ids: Collection[int],
    *,
    trigger: str = "link",
    on_progress: Callable[[int], None] | None = None,
) -> StepResult:
    """Link every report not linked yet (``report_ids`` among them); idempotent.

    The next step takes ``report_ids`` and the reports whose links changed:
    the newly linked ones and the members of the clusters they joined, whose
    evidence grew. Linking also raises the deconfliction alerts of clusters
    that now span agencies. ``trigger`` is the flow's reason to run; linking
    does not need it.
    """
    from veille.linking.engine import link_reports

    summary = link_reports(database, actor="flow", on_progress=on_progress)
    return StepResult(frozenset(summary.affected_report_ids) | frozenset(report_ids), summary)


FLOW_STEPS = (FlowStep("link", link_step, "Join new reports to case clusters; raise alerts."),)


def rescore_now(
    database: Database,
    report_ids: Collection[int],
    on_progress: Callable[[int], None] | None = None,
) -> Any | None:
    """Run the ``score`` step now for ``report_ids``, whose clusters a linking run changed.

    Returns the step's summary, or ``None`` when no installed capability
    declares that step.
    """
    step = flow_step("score")
    if step is None:
        return None
    return step.run(database, report_ids, trigger="link", on_progress=on_progress).summary
