"""Scores with reasons: evaluate the policy on reports, store, re-score on news.

A score is the sum of its reasons (factor, contribution, evidence); the band
and due time follow from the policy's thresholds. Scores are stored with the
policy version and a digest of the facts used, so a re-score after a match or
a link only rewrites the reports whose facts changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from veille.core.bulk import insert_rows
from veille.store.db import Database, PlannerStatistics
from veille.store.models import Report
from veille.store.sql import among
from veille.store.types import utcnow
from veille.triage.factors import CONTEXT_FACTORS, RULES
from veille.triage.media_bridge import MediaSignalSource
from veille.triage.models import QueueItem, QueueState, TriageScore
from veille.triage.policy import BANDS, Policy, active_policy
from veille.triage.signals import ReportSignals, gather_signals

CHUNK_SIZE = 2000


@dataclass(frozen=True)
class Reason:
    """One factor's share of a score."""

    factor: str
    contribution: float
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """Plain form, as stored."""
        return {"factor": self.factor, "contribution": self.contribution, "detail": self.detail}


@dataclass(frozen=True)
class Evaluation:
    """A policy's verdict on one report."""

    score: float
    band: str
    due_hours: float
    reasons: tuple[Reason, ...]


def evaluate(policy: Policy, signals: ReportSignals, as_of: datetime) -> Evaluation:
    """Score one report; reasons are listed largest contribution first."""
    reasons: list[Reason] = []
    for name, spec in policy.spec.factors.items():
        if name == "known_viral_only" or spec.weight == 0:
            continue
        applied = RULES[name](signals, spec, as_of)
        if applied is not None:
            reasons.append(Reason(name, round(spec.weight * applied[0], 2), applied[1]))
    viral = policy.spec.factors.get("known_viral_only")
    if viral is not None and viral.weight != 0:
        others = [r for r in reasons if r.factor not in CONTEXT_FACTORS and r.contribution > 0]
        applied = RULES["known_viral_only"](signals, viral, as_of)
        if applied is not None and not others:
            reasons.append(Reason("known_viral_only", round(viral.weight, 2), applied[1]))
    reasons.sort(key=lambda reason: (-abs(reason.contribution), reason.factor))
    score = round(sum(reason.contribution for reason in reasons), 2)
    band, due_hours = policy.band_for(score)
    return Evaluation(score, band, due_hours, tuple(reasons))


def due_time(
    evaluation: Evaluation,
    received_at: datetime,
    as_of: datetime,
    previous: tuple[str, datetime] | None,
) -> datetime:
    """When the report is due.

    First score: arrival plus the band's hours. When new information raises
    the band, the unit gets the band's hours from that moment, but never
    more time than it had. Otherwise the earlier due time stands, or the
    arrival-based one if the band fell.
    """
    hours = timedelta(hours=evaluation.due_hours)
    by_arrival = received_at + hours
    if previous is None:
        return by_arrival
    old_band, old_due = previous
    rank = BANDS.index
    if rank(evaluation.band) < rank(old_band):
        return min(old_due, max(by_arrival, as_of + hours))
    if rank(evaluation.band) == rank(old_band):
        return old_due
    return max(old_due, by_arrival)


@dataclass
class ScoreSummary:
    """What a scoring run did; its counts add up.

    Every report asked for is counted once: ``considered == scored + unchanged
    + missing``. Of the scored ones, ``scored == new + rescored ==
    sum(by_band.values())``, and ``band_changed`` counts the re-scored reports
    whose band moved (so ``band_changed <= rescored``).
    """

    considered: int = 0
    """Report ids asked for (each once)."""
    scored: int = 0
    """Reports evaluated and stored in this run (``new + rescored``)."""
    new: int = 0
    """Reports scored for the first time."""
    rescored: int = 0
    """Reports that had a score and got a new one."""
    band_changed: int = 0
    """Re-scored reports whose band is not the one they had."""
    unchanged: int = 0
    """Reports whose facts and policy are as at their last score: the score was kept."""
    missing: int = 0
    """Ids asked for that name no report (deleted since they were listed)."""
    by_band: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BANDS, 0))
    """The bands of the reports scored in this run."""
    policy_version: str = ""
    elapsed_s: float = 0.0

    def add(self, other: ScoreSummary) -> None:
        """Add the counts of another run (a chunk of this one)."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for band, count in other.by_band.items():
            self.by_band[band] = self.by_band.get(band, 0) + count

    def as_dict(self) -> dict[str, Any]:
        """Printable counts."""
        return {
            **{name: getattr(self, name) for name in COUNTS},
            "by_band": self.by_band,
            "policy_version": self.policy_version,
            "elapsed_s": round(self.elapsed_s, 2),
        }

    def describe(self) -> str:
        """The counts in one line, for people."""
        return (
            f"{self.considered} considered: {self.scored} scored ({self.new} new, "
            f"{self.rescored} re-scored, {self.band_changed} changed band), "
            f"{self.unchanged} unchanged (score kept)"
            + (f", {self.missing} no longer exist" if self.missing else "")
            + "; "
            + ", ".join(f"{band} {count}" for band, count in self.by_band.items())
        )


COUNTS = ("considered", "scored", "new", "rescored", "band_changed", "unchanged", "missing")
"""The counters of :class:`ScoreSummary`, in the order they are printed."""


def rescore_reports(
    session: Session,
    report_ids: Collection[int],
    *,
    trigger: str = "match",
    as_of: datetime | None = None,
    media_source: MediaSignalSource | bool | None = True,
    force: bool = False,
    policy: Policy | None = None,
) -> ScoreSummary:
    """Score (or re-score) reports in the caller's transaction.

    Call it when something changed a report's facts (``trigger``: ``match``,
    ``link``, ``flag`` …). Reports whose facts and policy are unchanged keep
    their score unless ``force``.
    """
    policy = policy or active_policy(session)
    as_of = as_of or utcnow()
    summary = ScoreSummary(policy_version=policy.version)
    ids = sorted(set(report_ids))
    summary.considered = len(ids)
    for start in range(0, len(ids), CHUNK_SIZE):
        _score_chunk(
            session,
            ids[start : start + CHUNK_SIZE],
            policy,
            as_of,
            trigger,
            media_source,
            force,
            summary,
        )
    return summary


def _score_chunk(
    session: Session,
    ids: list[int],
    policy: Policy,
    as_of: datetime,
    trigger: str,
    media_source: MediaSignalSource | bool | None,
    force: bool,
    summary: ScoreSummary,
) -> None:
    signals = gather_signals(session, ids, media_source)
    summary.missing += len(ids) - len(signals)
    previous = {
        row.report_id: row
        for row in session.execute(
            select(
                TriageScore.report_id,
                TriageScore.band,
                TriageScore.due_at,
                TriageScore.inputs_digest,
                TriageScore.policy_version,
            ).where(among(TriageScore.report_id, list(signals)))
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for report_id, facts in signals.items():
        digest = facts.digest()
        old = previous.get(report_id)
        if (
            old is not None
            and not force
            and old.inputs_digest == digest
            and old.policy_version == policy.version
        ):
            summary.unchanged += 1
            continue
        evaluation = evaluate(policy, facts, as_of)
        due = due_time(
            evaluation, facts.received_at, as_of, None if old is None else (old.band, old.due_at)
        )
        row = {
            "report_id": report_id,
            "score": evaluation.score,
            "band": evaluation.band,
            "due_at": due,
            "reasons": [reason.as_dict() for reason in evaluation.reasons],
            "policy_version": policy.version,
            "inputs_digest": digest,
            "trigger": trigger if old is not None else "new",
            "scored_at": as_of,
        }
        (inserts if old is None else updates).append(row)
        summary.by_band[evaluation.band] += 1
        summary.scored += 1
        if old is None:
            summary.new += 1
        else:
            summary.rescored += 1
            summary.band_changed += int(old.band != evaluation.band)
    insert_rows(session, TriageScore, inserts)
    if updates:
        # Delete and re-insert in bulk: one UPDATE per row is far slower on PostgreSQL.
        changed = [row["report_id"] for row in updates]
        for start in range(0, len(changed), 900):
            session.execute(
                delete(TriageScore).where(
                    among(TriageScore.report_id, changed[start : start + 900])
                )
            )
        insert_rows(session, TriageScore, updates)
    _enqueue_for_owners(session, signals)


def _enqueue_for_owners(session: Session, signals: dict[int, ReportSignals]) -> None:
    queued = set(
        session.execute(
            select(QueueItem.agency_id, QueueItem.report_id).where(
                among(QueueItem.report_id, list(signals))
            )
        )
    )
    now = utcnow()
    rows = [
        {
            "agency_id": facts.owner_agency_id,
            "report_id": report_id,
            "state": QueueState.NEW,
            "updated_at": now,
            "updated_by": "triage",
        }
        for report_id, facts in signals.items()
        if (facts.owner_agency_id, report_id) not in queued
    ]
    insert_rows(session, QueueItem, rows)


def unscored_report_ids(session: Session) -> list[int]:
    """Reports that have no score yet, in id order."""
    scored = exists(select(TriageScore.report_id).where(TriageScore.report_id == Report.id))
    return list(session.scalars(select(Report.id).where(~scored).order_by(Report.id)))


def score_reports(
    database: Database,
    report_ids: Collection[int] | None = None,
    *,
    trigger: str = "new",
    as_of: datetime | None = None,
    media_source: MediaSignalSource | bool | None = True,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ScoreSummary:
    """Score ``report_ids`` (default: every unscored report), one transaction per chunk."""
    started = time.perf_counter()
    with database.session() as session:
        policy = active_policy(session)
        ids = sorted(set(report_ids)) if report_ids is not None else unscored_report_ids(session)
    as_of = as_of or utcnow()
    total = ScoreSummary(policy_version=policy.version)
    statistics = PlannerStatistics(database.dialect)
    for start in range(0, len(ids), CHUNK_SIZE):
        chunk = ids[start : start + CHUNK_SIZE]
        with database.session() as session:
            part = rescore_reports(
                session,
                chunk,
                trigger=trigger,
                as_of=as_of,
                media_source=media_source,
                force=force,
                policy=policy,
            )
            statistics.advance(len(chunk), session)
        total.add(part)
        if on_progress is not None:
            on_progress(len(chunk))
    total.elapsed_s = time.perf_counter() - started
    return total


def all_report_ids(session: Session) -> list[int]:
    """Every report id (for a full re-score after a policy change)."""
    return list(session.scalars(select(Report.id).order_by(Report.id)))
