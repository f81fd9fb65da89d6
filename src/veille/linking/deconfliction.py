"""Deconfliction: agencies working on the same case cluster are told of each other.

When the reports of one case cluster are owned by two or more agencies, each
gets an alert naming the other, so that two units do not investigate the same
offender blind: the alert names whom to contact and shows no report.
Markings hold: a TLP:RED report raises no alert and is not counted, so an
agency whose only reports of a cluster are red is neither told of nor named
to the others (linking keeps red reports out of shared clusters anyway).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from veille.core.bulk import insert_rows
from veille.linking.models import CaseCluster, DeconflictionAlert, ReportCluster
from veille.store.audit import record_event
from veille.store.models import Agency, Report
from veille.store.sql import among
from veille.store.types import utcnow
from veille.vocab import Marking


@dataclass(frozen=True)
class AlertView:
    """One alert as its recipient may see it (``cluster_id`` is the public id)."""

    id: int
    cluster_id: str
    other_agency: str
    other_country: str | None
    created_at: datetime
    acknowledged_at: datetime | None

    @property
    def message(self) -> str:
        """The alert in one sentence."""
        return (
            f"case cluster {self.cluster_id}: {self.other_agency} ({self.other_country}) "
            "also holds reports of this case"
        )


def owners_by_cluster(session: Session, cluster_ids: Collection[int]) -> dict[int, dict[int, bool]]:
    """For each cluster: the agencies holding at least one of its reports that is not red.

    (The value is always true; it fills ``other_disclosed``.)
    """
    found: dict[int, dict[int, bool]] = defaultdict(dict)
    ids = list(cluster_ids)
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(ReportCluster.cluster_id, Report.owner_agency_id)
            .join(Report, Report.id == ReportCluster.report_id)
            .where(
                among(ReportCluster.cluster_id, ids[start : start + 1000]),
                Report.marking != Marking.RED,
            )
            .group_by(ReportCluster.cluster_id, Report.owner_agency_id)
        )
        for cluster_id, agency_id in rows:
            found[cluster_id][agency_id] = True
    return found


def refresh_alerts(session: Session, cluster_ids: Collection[int]) -> int:
    """Create the alerts that clusters spanning several agencies call for; returns how many are new."""
    owners = owners_by_cluster(session, cluster_ids)
    spanning = {cid: agencies for cid, agencies in owners.items() if len(agencies) >= 2}
    if not spanning:
        return 0
    existing: dict[tuple[int, int, int], tuple[int, bool]] = {}
    ids = list(spanning)
    for start in range(0, len(ids), 1000):
        for row in session.execute(
            select(
                DeconflictionAlert.id,
                DeconflictionAlert.cluster_id,
                DeconflictionAlert.agency_id,
                DeconflictionAlert.other_agency_id,
                DeconflictionAlert.other_disclosed,
            ).where(among(DeconflictionAlert.cluster_id, ids[start : start + 1000]))
        ):
            existing[(row.cluster_id, row.agency_id, row.other_agency_id)] = (
                row.id,
                row.other_disclosed,
            )
    new_rows = []
    now = utcnow()
    for cluster_id, agencies in spanning.items():
        for agency_id in agencies:
            for other_id, other_open in agencies.items():
                if other_id == agency_id:
                    continue
                known = existing.get((cluster_id, agency_id, other_id))
                if known is None:
                    new_rows.append(
                        {
                            "cluster_id": cluster_id,
                            "agency_id": agency_id,
                            "other_agency_id": other_id,
                            "other_disclosed": other_open,
                            "created_at": now,
                        }
                    )
                elif known[1] != other_open:
                    session.execute(
                        update(DeconflictionAlert)
                        .where(DeconflictionAlert.id == known[0])
                        .values(other_disclosed=other_open)
                    )
    insert_rows(session, DeconflictionAlert, new_rows)
    return len(new_rows)


def list_alerts(
    session: Session, agency_id: int, *, include_acknowledged: bool = False
) -> list[AlertView]:
    """The alerts addressed to ``agency_id``, newest first."""
    statement = (
        select(DeconflictionAlert, CaseCluster.public_id, Agency.name, Agency.country)
        .join(Agency, Agency.id == DeconflictionAlert.other_agency_id)
        .join(CaseCluster, CaseCluster.id == DeconflictionAlert.cluster_id)
        .where(
            DeconflictionAlert.agency_id == agency_id,
            DeconflictionAlert.other_disclosed.is_(True),
        )
        .order_by(DeconflictionAlert.created_at.desc(), DeconflictionAlert.id.desc())
    )
    if not include_acknowledged:
        statement = statement.where(DeconflictionAlert.acknowledged_at.is_(None))
    return [
        AlertView(
            id=alert.id,
            cluster_id=public_id,
            other_agency=name,
            other_country=country,
            created_at=alert.created_at,
            acknowledged_at=alert.acknowledged_at,
        )
        for alert, public_id, name, country in session.execute(statement)
    ]


def acknowledge_alert(session: Session, alert_id: int, agency_id: int, actor: str) -> None:
    """Mark an alert as read by its recipient."""
    alert = session.get(DeconflictionAlert, alert_id)
    if alert is None or alert.agency_id != agency_id:
        raise LookupError(f"alert {alert_id} does not exist or is not addressed to your agency")
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = actor
    record_event(
        session,
        actor=actor,
        agency_id=agency_id,
        action="alert.acknowledge",
        object_type="deconfliction_alert",
        object_id=alert_id,
    )
