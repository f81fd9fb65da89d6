"""The travel-watch part of ``veille demo``: the scenario's watch list and notices, matched and scored."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from veille.casework.travel.alerts import alerts_by_notice
from veille.casework.travel.evaluation import score_alerts
from veille.casework.travel.models import TravelNotice
from veille.casework.travel.notices import import_notices, match_notices
from veille.casework.travel.watchlist import import_watch_list, today
from veille.core.demo import DemoContext, DemoSection
from veille.store.reports import Viewer


def step_travel_watch(context: DemoContext) -> DemoSection | None:
    """``veille demo`` step: import the watch list and travel notices, match, print precision/recall.

    The scenario's notices are years old and its entries valid until the end
    of 2025: matching runs as on the day of the last departure, as it would
    have then.
    """
    watch_path = context.scenario / "watchlist.jsonl"
    notices_path = context.scenario / "travel-notices.jsonl"
    if not watch_path.is_file() or not notices_path.is_file():
        return None
    started = time.perf_counter()
    viewer = Viewer.administrator("demo")
    watch = import_watch_list(context.database, watch_path, viewer, fmt="jsonl")
    notices = import_notices(context.database, notices_path, viewer, fmt="jsonl")
    with context.database.session() as session:
        last_departure = session.scalar(select(func.max(TravelNotice.departure_at)))
    as_of = today(last_departure) if last_departure is not None else None
    matched = match_notices(context.database, viewer, as_of=as_of)
    lines = [
        f"watch list: {watch.imported + watch.updated + watch.unchanged:,} entries; "
        f"travel notices: {notices.imported + notices.unchanged:,}",
        f"matched as on {as_of}: {matched.alerts:,} alerts from {matched.notices:,} notices",
    ]
    truth_path = context.scenario / "truth.json"
    if truth_path.is_file():
        truth = json.loads(truth_path.read_text(encoding="utf-8")).get("travel", {})
        with context.database.session() as session:
            raised = [(notice, watch_id) for notice, watch_id, _ in alerts_by_notice(session)]
        scores = score_alerts(raised, truth.get("true_matches", ()))
        context.results["travel"] = scores.as_dict()
        by_kind = ", ".join(
            f"{kind} {scores.recall_of(kind):.3f}" for kind in sorted(scores.found_by_variation)
        )
        lines.append(
            f"against the scenario's truth: precision {scores.precision:.3f}, "
            f"recall {scores.recall:.3f} ({by_kind})"
        )
    return DemoSection("Travel watch", lines=lines, seconds=time.perf_counter() - started)


DEMO_STEPS = (step_travel_watch,)
