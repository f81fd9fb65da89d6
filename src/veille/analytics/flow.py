"""Analytics' place in the flow: counting stored reports into the rollups."""

from __future__ import annotations

from collections.abc import Callable, Collection

from veille.contract import FlowStep, StepResult
from veille.store.db import Database


def rollup_step(
    database: Database,
    report_ids: Collection[int],
    *,
    trigger: str = "new",
    on_progress: Callable[[int], None] | None = None,
) -> StepResult:
    """Count every report not counted yet (``report_ids`` only say the flow ran); idempotent.

    Re-scored reports were counted when they were first stored, so a run
    started by a later match or link usually finds nothing to do.
    """
    from veille.analytics.rollup import roll_up

    summary = roll_up(database, on_progress)
    return StepResult(frozenset(), summary.as_dict())


FLOW_STEPS = (FlowStep("rollup", rollup_step, "Count stored reports into the trend rollups."),)
