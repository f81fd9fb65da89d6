"""Why a report has its priority: the stored score, each reason, and what happened since.

The explanation is what an analyst (or a court) reads to check a priority:
the policy version, each factor with its contribution and evidence, the case
cluster it belongs to, its place in the queue and its referrals.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from veille.linking.clusters import cluster_as_seen_by
from veille.store.audit import record_event
from veille.store.models import Agency
from veille.store.reports import Viewer, get_report
from veille.store.types import utcnow
from veille.triage.models import QueueItem, Referral, TriageScore
from veille.triage.policy import active_policy
from veille.triage.scoring import evaluate
from veille.triage.signals import gather_signals


def explain_report(session: Session, viewer: Viewer, report_id: int) -> dict[str, Any]:
    """The score of a report with its reasons; a report not scored yet is evaluated now."""
    report = get_report(session, viewer, report_id)
    stored = session.get(TriageScore, report_id)
    if stored is not None:
        score: dict[str, Any] = {
            "score": stored.score,
            "band": stored.band,
            "due_at": stored.due_at,
            "policy_version": stored.policy_version,
            "scored_at": stored.scored_at,
            "trigger": stored.trigger,
            "reasons": stored.reasons,
            "stored": True,
        }
    else:
        policy = active_policy(session)
        signals = gather_signals(session, [report_id])[report_id]
        evaluation = evaluate(policy, signals, utcnow())
        score = {
            "score": evaluation.score,
            "band": evaluation.band,
            "due_at": None,
            "policy_version": policy.version,
            "scored_at": None,
            "trigger": None,
            "reasons": [reason.as_dict() for reason in evaluation.reasons],
            "stored": False,
        }
    facts = cluster_as_seen_by(session, viewer, report_id)
    queue_statement = (
        select(QueueItem, Agency.name)
        .join(Agency, Agency.id == QueueItem.agency_id)
        .where(QueueItem.report_id == report_id)
        .order_by(QueueItem.agency_id)
    )
    referral_statement = (
        select(Referral, Agency.name)
        .join(Agency, Agency.id == Referral.to_agency_id)
        .where(Referral.report_id == report_id)
        .order_by(Referral.id)
    )
    if viewer.agency_id is not None:
        queue_statement = queue_statement.where(QueueItem.agency_id == viewer.agency_id)
        referral_statement = referral_statement.where(
            or_(
                Referral.from_agency_id == viewer.agency_id,
                Referral.to_agency_id == viewer.agency_id,
            )
        )
    queue = [
        {
            "agency_id": item.agency_id,
            "agency": name,
            "state": item.state,
            "assignee": item.assignee,
            "outcome": item.outcome,
        }
        for item, name in session.execute(queue_statement)
    ]
    referrals = [
        {
            "id": referral.id,
            "to": name,
            "reason": referral.reason,
            "created_at": referral.created_at,
            "acknowledged_at": referral.acknowledged_at,
        }
        for referral, name in session.execute(referral_statement)
    ]
    record_event(
        session,
        actor=viewer.actor,
        agency_id=viewer.agency_id,
        action="triage.explain",
        object_type="report",
        object_id=report_id,
    )
    return {
        "report_id": report.id,
        "received_at": report.received_at,
        "country": report.derived_country,
        **score,
        "cluster": None
        if facts is None
        else {
            "cluster_id": facts.cluster_id,
            "size": facts.size,
            "agencies": facts.agency_count,
            "countries": facts.country_count,
        },
        "queue": queue,
        "referrals": referrals,
    }
