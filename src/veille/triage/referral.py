"""Referral: send a report to the agency competent for it, and keep the record.

The competent agency is the police unit of the report's derived country
(the reason the country was derived — provided, IP, phone, stated — is part
of the referral's reason). A referral shares the report with the target
(``report_share``) unless it is TLP:RED, moves the referring agency's queue
item to ``referred`` and puts the report in the target's queue. Both sides
see the referral record; the target acknowledges it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from veille.geo import country_name
from veille.linking.clusters import (
    ClusterNotFound,
    cluster_of_report,
    cluster_report_ids,
    internal_cluster_id,
    owned_cluster_members,
    public_cluster_ids,
)
from veille.store.audit import record_event
from veille.store.models import Agency, Report
from veille.store.reports import Viewer, get_report, share_report
from veille.store.types import utcnow
from veille.store.visibility import report_visible_to
from veille.triage.models import QueueItem, QueueState, Referral, TriageScore
from veille.triage.scoring import rescore_reports
from veille.vocab import AgencyKind, Marking


class ReferralError(ValueError):
    """A referral that cannot be made (no competent agency, not the owner, same agency)."""


@dataclass(frozen=True)
class Competence:
    """The agency competent for a report and why."""

    agency: Agency
    reason: str


def competent_agency(session: Session, report: Report) -> Competence:
    """The police unit of the report's derived country (else an intelligence unit)."""
    country = report.derived_country
    if country is None:
        raise ReferralError(
            f"report {report.id}: no derived country, so no competent agency can be chosen; "
            "name the agency with --to"
        )
    basis = (
        f"derived country {country} ({country_name(country)}) from {report.country_reason.value}"
    )
    police = session.scalars(
        select(Agency)
        .where(Agency.country == country, Agency.kind == AgencyKind.POLICE)
        .order_by(Agency.id)
    ).first()
    if police is not None:
        return Competence(police, f"{basis}; {police.name} is the police unit for {country}")
    intelligence = session.scalars(
        select(Agency).where(Agency.kind == AgencyKind.INTELLIGENCE).order_by(Agency.id)
    ).first()
    if intelligence is not None:
        return Competence(
            intelligence,
            f"{basis}; no police unit for {country}, so the coordinating unit "
            f"{intelligence.name} receives it",
        )
    raise ReferralError(
        f"report {report.id}: no police unit for {country} and no intelligence unit; "
        "name the agency with --to"
    )


def refer_report(
    session: Session,
    viewer: Viewer,
    report_id: int,
    *,
    to_agency: Agency | None = None,
    reason: str | None = None,
    cluster_id: str | None = None,
) -> Referral:
    """Refer one report (only its owner may); a repeat referral to the same agency is a no-op."""
    report = get_report(session, viewer, report_id)
    if viewer.agency_id is not None and report.owner_agency_id != viewer.agency_id:
        raise ReferralError(f"report {report_id}: only its owning agency may refer it")
    if to_agency is None:
        competence = competent_agency(session, report)
        to_agency, why = competence.agency, competence.reason
    else:
        why = f"referred to {to_agency.name} by choice"
    if reason:
        why = f"{reason} ({why})"
    if to_agency.id == report.owner_agency_id:
        raise ReferralError(
            f"report {report_id}: {to_agency.name} already owns it (it is the competent agency)"
        )
    existing = session.scalar(
        select(Referral).where(
            Referral.report_id == report_id, Referral.to_agency_id == to_agency.id
        )
    )
    if existing is not None:
        return existing
    shared = report.marking != Marking.RED
    if shared:
        owner_view = Viewer(viewer.actor, report.owner_agency_id)
        share_report(session, owner_view, report_id, to_agency.id)
    referral = Referral(
        report_id=report_id,
        from_agency_id=report.owner_agency_id,
        to_agency_id=to_agency.id,
        reason=why[:500],
        cluster_id=None if cluster_id is None else internal_cluster_id(session, cluster_id),
        shared=shared,
        created_by=viewer.actor,
    )
    session.add(referral)
    _queue_moves(session, report, to_agency.id, viewer.actor)
    session.flush()
    if shared:
        rescore_after_share(session, report_id)
    record_event(
        session,
        actor=viewer.actor,
        agency_id=report.owner_agency_id,
        action="referral.create",
        object_type="report",
        object_id=report_id,
        detail=f"to {to_agency.name}: {why}"[:1000],
    )
    return referral


def rescore_after_share(session: Session, report_id: int) -> None:
    """Re-score, in this transaction, the scores that a new reader changes.

    The shared report's score may only draw on what its new reader may also
    see, so it may lose evidence; the other reports of its cluster may now
    count it. Reports not scored yet are left to the next scoring run.
    """
    cluster_id = cluster_of_report(session, report_id)
    members = [report_id] if cluster_id is None else cluster_report_ids(session, cluster_id)
    scored = list(
        session.scalars(select(TriageScore.report_id).where(TriageScore.report_id.in_(members)))
    )
    if scored:
        rescore_reports(session, scored, trigger="referral")


def _queue_moves(session: Session, report: Report, target_id: int, actor: str) -> None:
    now = utcnow()
    own = session.get(QueueItem, (report.owner_agency_id, report.id))
    if own is not None and own.state is not QueueState.CLOSED:
        own.state = QueueState.REFERRED
        own.updated_at = now
        own.updated_by = actor
    if session.get(QueueItem, (target_id, report.id)) is None:
        session.add(
            QueueItem(
                agency_id=target_id,
                report_id=report.id,
                state=QueueState.NEW,
                updated_at=now,
                updated_by=actor,
            )
        )


@dataclass
class BulkReferral:
    """What a cluster referral did."""

    referred: list[Referral]
    skipped: list[tuple[int, str]]


def refer_cluster(
    session: Session,
    viewer: Viewer,
    cluster_id: str,
    *,
    to_agency: Agency | None = None,
    reason: str | None = None,
) -> BulkReferral:
    """Refer every report of a case cluster (by public id) that the viewer's agency owns.

    Each goes to ``to_agency`` or, by default, to its own competent agency;
    reports that cannot be referred are listed with the reason.
    """
    own = owned_cluster_members(session, cluster_id, viewer.agency_id)
    if not own:
        raise ClusterNotFound(
            f"case cluster {cluster_id[:40]} does not exist or holds no report your agency owns"
        )
    result = BulkReferral([], [])
    for report_id in own:
        try:
            result.referred.append(
                refer_report(
                    session,
                    viewer,
                    report_id,
                    to_agency=to_agency,
                    reason=reason or f"case cluster {cluster_id}",
                    cluster_id=cluster_id,
                )
            )
        except ReferralError as error:
            result.skipped.append((report_id, str(error)))
    return result


def names_of_agencies(session: Session, agency_ids: Collection[int]) -> dict[int, str]:
    """The name of each agency among ``agency_ids``."""
    ids = sorted(set(agency_ids))
    if not ids:
        return {}
    rows = session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(ids)))
    return {agency_id: name for agency_id, name in rows}


def list_referrals(
    session: Session,
    agency_id: int,
    *,
    direction: str = "both",
    limit: int = 100,
    report_id: int | None = None,
) -> list[dict[str, Any]]:
    """Referrals the agency made (``out``), received (``in``) or both, newest first (only those
    of ``report_id`` when given)."""
    sender = aliased(Agency)
    receiver = aliased(Agency)
    statement = (
        select(Referral, sender.name, receiver.name)
        .join(sender, sender.id == Referral.from_agency_id)
        .join(receiver, receiver.id == Referral.to_agency_id)
        .order_by(Referral.created_at.desc(), Referral.id.desc())
        .limit(limit)
    )
    if report_id is not None:
        statement = statement.where(Referral.report_id == report_id)
    if direction == "in":
        statement = statement.where(Referral.to_agency_id == agency_id)
    elif direction == "out":
        statement = statement.where(Referral.from_agency_id == agency_id)
    elif direction == "both":
        statement = statement.where(
            or_(Referral.to_agency_id == agency_id, Referral.from_agency_id == agency_id)
        )
    else:
        raise ReferralError(f"direction: expected in, out or both, got {direction!r}")
    rows = session.execute(statement).all()
    public = public_cluster_ids(
        session, [referral.cluster_id for referral, _, _ in rows if referral.cluster_id is not None]
    )
    visible = set(
        session.scalars(
            select(Report.id).where(
                Report.id.in_([referral.report_id for referral, _, _ in rows]),
                report_visible_to(agency_id),
            )
        )
    )
    return [
        {
            "id": referral.id,
            "report_id": referral.report_id,
            "from": from_name,
            "to": to_name,
            "reason": referral.reason,
            "cluster_id": None if referral.cluster_id is None else public.get(referral.cluster_id),
            "created_at": referral.created_at,
            "created_by": referral.created_by,
            "acknowledged_at": referral.acknowledged_at,
            "report_visible": referral.report_id in visible,
        }
        for referral, from_name, to_name in rows
    ]


def acknowledge_referral(session: Session, viewer: Viewer, referral_id: int) -> datetime:
    """The receiving agency acknowledges a referral; returns when."""
    referral = session.get(Referral, referral_id)
    if referral is None or (
        viewer.agency_id is not None and referral.to_agency_id != viewer.agency_id
    ):
        raise LookupError(f"referral {referral_id} does not exist or was not made to your agency")
    if referral.acknowledged_at is None:
        referral.acknowledged_at = utcnow()
        referral.acknowledged_by = viewer.actor
        record_event(
            session,
            actor=viewer.actor,
            agency_id=viewer.agency_id,
            action="referral.acknowledge",
            object_type="referral",
            object_id=referral_id,
        )
    return referral.acknowledged_at
