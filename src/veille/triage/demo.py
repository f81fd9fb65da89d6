"""The linking, triage and referral part of ``veille demo``.

Runs on whatever the demo imported: links the reports, scores them, shows the
top of the busiest queue and refers the reports held by an agency of another
country than the one the report points to.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update

from veille.core.demo import DemoContext, DemoSection
from veille.linking.engine import link_reports
from veille.linking.models import (
    CaseCluster,
    DeconflictionAlert,
    ReportCluster,
    ReportLink,
    StopEntry,
)
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.models import Agency, Report
from veille.store.reports import Viewer
from veille.triage.models import Outcome, QueueItem, QueueState, Referral, TriageScore
from veille.triage.queue import queue_for
from veille.triage.referral import ReferralError, competent_agency, refer_report
from veille.triage.scoring import score_reports


def run_linking_triage_demo(
    database: Database,
    *,
    actor: str = "demo",
    max_referrals: int = 20,
    queue_rows: int = 5,
    queue_as_of: datetime | None = None,
    handled_before: datetime | None = None,
) -> dict[str, Any]:
    """Link, score, read the top of the busiest queue and make a few referrals; printable counts.

    The counts are the database's after this run: the flow's consumer (in
    the web app of the intake step) may have linked and scored reports first.

    ``queue_as_of`` is the moment the queue is read at (default now): a
    scenario of past years reads best at its own last working day.
    ``handled_before`` closes every new queue item whose report arrived
    before that time, as a unit that keeps up with its work would have.
    """
    linking = link_reports(database, actor=actor)
    scoring = score_reports(
        database, linking.affected_report_ids | _unscored(database), trigger="link"
    )
    closed = 0 if handled_before is None else _close_backlog(database, handled_before, actor)
    with database.session() as session:
        linked = session.scalar(select(func.count()).select_from(ReportCluster)) or 0
        links = session.scalar(select(func.count()).select_from(ReportLink)) or 0
        stopped = session.scalar(
            select(func.count()).select_from(StopEntry).where(StopEntry.source == "auto")
        )
        by_band = dict(
            session.execute(select(TriageScore.band, func.count()).group_by(TriageScore.band)).all()
        )
        clusters = session.scalar(select(func.count()).where(CaseCluster.size >= 2)) or 0
        largest = session.scalar(select(func.max(CaseCluster.size))) or 0
        alerts = session.scalar(select(func.count()).select_from(DeconflictionAlert)) or 0
        in_p1 = func.sum(case((TriageScore.band == "P1", 1), else_=0))
        busiest = session.execute(
            select(QueueItem.agency_id, Agency.name)
            .join(Agency, Agency.id == QueueItem.agency_id)
            .join(TriageScore, TriageScore.report_id == QueueItem.report_id)
            .where(QueueItem.state == QueueState.NEW)
            .group_by(QueueItem.agency_id, Agency.name)
            .order_by(in_p1.desc(), func.count().desc(), QueueItem.agency_id)
            .limit(1)
        ).first()
        top: list[dict[str, Any]] = []
        queue_summary = "no open report"
        if busiest is not None:
            view = queue_for(session, busiest[0], actor, limit=queue_rows, as_of=queue_as_of)
            when = "" if queue_as_of is None else view.as_of.strftime(" at %Y-%m-%dT%H:%MZ")
            queue_summary = f"{busiest[1]}{when}: {view.summary()}"
            top = [
                {
                    "report_id": item["report_id"],
                    "band": item["band"],
                    "score": item["score"],
                    "why": "; ".join(
                        f"{r['factor']} {r['contribution']:+g}" for r in item["reasons"][:3]
                    ),
                }
                for item in view.items
            ]
        referred = _refer_cross_border(session, actor, max_referrals)
        referral_total = session.scalar(select(func.count()).select_from(Referral)) or 0
    return {
        "linked_reports": linked,
        "links": links,
        "case_clusters": clusters,
        "largest_cluster": largest,
        "stop_listed_identifiers": stopped or 0,
        "deconfliction_alerts": alerts,
        "scored": sum(by_band.values()),
        "by_band": {band: by_band.get(band, 0) for band in sorted({*by_band, *scoring.by_band})},
        "queue": queue_summary,
        "closed_as_handled": closed,
        "queue_top": top,
        "referrals_made": referred,
        "referrals_total": referral_total,
    }


def _close_backlog(database: Database, before: datetime, actor: str) -> int:
    """Close the new queue items of reports received before ``before``; one audit event per agency."""
    received_before = select(Report.id).where(Report.received_at < before)
    note = f"closed by the demo: a working unit had handled it before {before:%Y-%m-%d}"
    with database.session() as session:
        per_agency = session.execute(
            select(QueueItem.agency_id, func.count())
            .where(QueueItem.state == QueueState.NEW, QueueItem.report_id.in_(received_before))
            .group_by(QueueItem.agency_id)
        ).all()
        session.execute(
            update(QueueItem)
            .where(QueueItem.state == QueueState.NEW, QueueItem.report_id.in_(received_before))
            .values(state=QueueState.CLOSED, outcome=Outcome.OTHER, note=note, updated_by=actor)
        )
        for agency_id, count in per_agency:
            record_event(
                session,
                actor=actor,
                agency_id=agency_id,
                action="triage.queue.state",
                object_type="agency",
                object_id=agency_id,
                detail=f"new → closed for {count} reports received before {before:%Y-%m-%d}",
            )
    return sum(count for _, count in per_agency)


def _unscored(database: Database) -> set[int]:
    from veille.triage.scoring import unscored_report_ids

    with database.session() as session:
        return set(unscored_report_ids(session))


def _refer_cross_border(session: Any, actor: str, limit: int) -> int:
    """Refer P1/P2 reports whose derived country's police unit is not their owner."""
    candidates = session.execute(
        select(Report)
        .join(TriageScore, TriageScore.report_id == Report.id)
        .join(Agency, Agency.id == Report.owner_agency_id)
        .where(
            TriageScore.band.in_(["P1", "P2"]),
            Report.derived_country.is_not(None),
            Agency.country != Report.derived_country,
        )
        .order_by(TriageScore.band, TriageScore.due_at)
        .limit(limit * 3)
    ).scalars()
    made = 0
    for report in candidates:
        if made >= limit:
            break
        try:
            target = competent_agency(session, report).agency
            if target.id == report.owner_agency_id:
                continue
            refer_report(
                session, Viewer(actor, report.owner_agency_id), report.id, to_agency=target
            )
            made += 1
        except ReferralError:
            continue
    return made


def scenario_working_day_end(database: Database, report_ids: Collection[int]) -> datetime | None:
    """17:00 UTC on the day the latest of ``report_ids`` arrived (or that arrival, if later)."""
    ids = list(report_ids)
    latest: datetime | None = None
    with database.session() as session:
        for start in range(0, len(ids), 900):
            found = session.scalar(
                select(func.max(Report.received_at)).where(Report.id.in_(ids[start : start + 900]))
            )
            if found is not None and (latest is None or found > latest):
                latest = found
    if latest is None:
        return None
    return max(latest, latest.replace(hour=17, minute=0, second=0, microsecond=0))


# The demo's units are taken to have kept up with their work until the last
# month of the scenario; the queue then shows a working day, not years of backlog.
DEMO_OPEN_WINDOW = timedelta(days=30)


def step_linking_triage(context: DemoContext) -> DemoSection:
    """``veille demo`` step: link identifiers, score, read a queue, refer across borders.

    The queue is read at the end of the scenario's last working day (its
    reports are years old: read now, every one of them would be overdue).
    """
    as_of = scenario_working_day_end(context.database, context.results.get("new_report_ids", ()))
    handled_before = None if as_of is None else as_of - DEMO_OPEN_WINDOW
    result = run_linking_triage_demo(
        context.database, queue_as_of=as_of, handled_before=handled_before
    )
    bands = ", ".join(f"{band} {count:,}" for band, count in sorted(result["by_band"].items()))
    lines = [
        f"linked reports: {result['linked_reports']:,} through {result['links']:,} links; "
        f"case clusters of 2+: {result['case_clusters']:,} (largest {result['largest_cluster']})",
        f"identifiers too common to link (stop-list): {result['stop_listed_identifiers']:,}",
        f"deconfliction alerts (one case, several agencies): {result['deconfliction_alerts']:,}",
        f"scored: {result['scored']:,} — {bands}",
        f"busiest queue (most P1 reports open): {result['queue']}",
    ]
    if handled_before is not None:
        lines.insert(
            -1,
            f"reports received before {handled_before:%Y-%m-%d} taken as handled: "
            f"{result['closed_as_handled']:,} queue items closed, so that the queue shows "
            f"the last {DEMO_OPEN_WINDOW.days} days' work",
        )
    lines += [
        f"  report {row['report_id']}: {row['band']} score {row['score']} ({row['why']})"
        for row in result["queue_top"]
    ]
    lines.append(
        f"cross-border referrals made: {result['referrals_made']} (total {result['referrals_total']})"
    )
    return DemoSection("linking, triage and referral", lines)


def _figure_line(label: str, figures: dict[str, float], measure: str) -> str:
    orders = ", ".join(
        f"{name.replace('_', ' ')} {figures[f'{name}_{measure}']:.3f}"
        for name in ("flag_rule", "newest_first", "random")
    )
    return f"{label}: triage {figures[f'triage_{measure}']:.3f} (baselines: {orders})"


def step_evaluation(context: DemoContext) -> DemoSection | None:
    """``veille demo`` step: this run's linking and triage against the scenario's truth.

    The linker and the scorer did not read the truth; only this step does,
    to score what they stored (``veille.triage.evaluation``). Skipped when
    the demo's scenario has no truth to read.
    """
    from veille.triage.evaluation import evaluate_run

    if not (context.scenario / "truth" / "evidence.jsonl").exists():
        return None
    f = evaluate_run(context.database, context.scenario, rng_seed=context.seed)
    return DemoSection(
        "linking and triage against the truth (one seed; bench/triage_eval.py runs five)",
        [
            f"linking, B-cubed: precision {f['bcubed_precision']:.3f}, recall "
            f"{f['bcubed_recall']:.3f} of the offenders' reports (the evidence allows "
            f"{f['ceiling_exact']:.3f} by exact identifiers, {f['ceiling_media']:.3f} by all the "
            f"evidence of one person, {f['permitted_ceiling_media']:.3f} of it within what the "
            f"markings permit; recall ÷ that ceiling {f['bcubed_recall_of_ceiling']:.3f})",
            f"pairs joined by an exact shared identifier, linked: {f['exact_pair_recall']:.3f}; "
            f"offenders fully recovered: {f['offenders_recovered']:.3f}; false merges: "
            f"{f['false_merges']:.0f} of {f['clusters_of_two_or_more']:.0f} clusters of 2+",
            f"deconfliction alerts per pair of agencies: precision {f['alert_precision']:.3f}, "
            f"recall {f['alert_recall']:.3f} (ceiling {f['alert_recall_ceiling']:.3f})",
            f"planted high-priority cases: {f['planted_cases']:.0f} in "
            f"{f['agencies_with_cases']:.0f} agencies' queues, {f['observable_cases']:.0f} with a "
            "cue a reader could see; capacity of an agency = the planted cases it holds",
            _figure_line("per-agency average precision", f, "average_precision"),
            _figure_line("recall within capacity", f, "recall_within_capacity"),
            _figure_line("observable cases within capacity", f, "observable_within_capacity"),
        ],
    )


DEMO_STEPS = (step_linking_triage, step_evaluation)
