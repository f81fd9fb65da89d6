"""Alerts: what a destination agency reads, and a reviewer's confirmation or dismissal.

An agency sees the alerts addressed to it; an administrator sees every
alert. Only the addressed agency (or an administrator) reviews one; the
review (who, when, the decision and a note) is stored on the alert and in
the audit log. A decision may be changed by a later review, and both stay in
the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from veille.casework.travel.models import AlertState, TravelAlert, TravelNotice
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.reports import Viewer
from veille.store.types import utcnow


class AlertNotFound(LookupError):
    """No such alert, or none the viewer may see."""


@dataclass(frozen=True)
class AlertView:
    """An alert with its notice, as commands and the API show it."""

    id: int
    state: str
    score: float
    watch_id: str
    notice_id: str
    traveller: str
    date_of_birth: str | None
    departure_country: str
    destination_country: str
    departure_at: datetime
    agency_id: int | None
    matched_fields: dict[str, Any]
    notes: list[str]
    created_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None


def _view(alert: TravelAlert, notice: TravelNotice) -> AlertView:
    return AlertView(
        id=alert.id,
        state=alert.state.value,
        score=alert.score,
        watch_id=alert.watch_id,
        notice_id=notice.notice_id,
        traveller=f"{notice.given_name} {notice.family_name}",
        date_of_birth=notice.date_of_birth.isoformat() if notice.date_of_birth else None,
        departure_country=notice.departure_country,
        destination_country=notice.destination_country,
        departure_at=notice.departure_at,
        agency_id=alert.agency_id,
        matched_fields=dict(alert.matched_fields),
        notes=list(alert.notes or ()),
        created_at=alert.created_at,
        reviewed_by=alert.reviewed_by,
        reviewed_at=alert.reviewed_at,
        review_note=alert.review_note,
    )


def list_alerts(
    session: Session,
    viewer: Viewer,
    *,
    state: AlertState | None = None,
    limit: int = 100,
) -> list[AlertView]:
    """The viewer's alerts, open ones first, then by score (highest first)."""
    query = select(TravelAlert, TravelNotice).join(
        TravelNotice, TravelNotice.id == TravelAlert.notice_id
    )
    if viewer.agency_id is not None:
        query = query.where(TravelAlert.agency_id == viewer.agency_id)
    if state is not None:
        query = query.where(TravelAlert.state == state)
    query = query.order_by(
        TravelAlert.reviewed_at.is_not(None), TravelAlert.score.desc(), TravelAlert.id
    )
    return [_view(alert, notice) for alert, notice in session.execute(query.limit(limit)).all()]


def count_alerts(session: Session, viewer: Viewer) -> dict[str, int]:
    """The viewer's alerts by state."""
    query = select(TravelAlert.state, func.count()).group_by(TravelAlert.state)
    if viewer.agency_id is not None:
        query = query.where(TravelAlert.agency_id == viewer.agency_id)
    counts = {state.value: 0 for state in AlertState}
    counts.update({state.value: n for state, n in session.execute(query).all()})
    return counts


def _visible(session: Session, viewer: Viewer, alert_id: int) -> tuple[TravelAlert, TravelNotice]:
    query = (
        select(TravelAlert, TravelNotice)
        .join(TravelNotice, TravelNotice.id == TravelAlert.notice_id)
        .where(TravelAlert.id == alert_id)
    )
    if viewer.agency_id is not None:
        query = query.where(TravelAlert.agency_id == viewer.agency_id)
    found = session.execute(query).first()
    if found is None:
        raise AlertNotFound(f"no travel alert {alert_id} addressed to this agency")
    return found


def get_alert(session: Session, viewer: Viewer, alert_id: int) -> AlertView:
    """One alert the viewer may see (:class:`AlertNotFound` otherwise)."""
    return _view(*_visible(session, viewer, alert_id))


def review_alert(
    database: Database,
    viewer: Viewer,
    alert_id: int,
    decision: AlertState,
    note: str | None = None,
) -> AlertView:
    """Confirm or dismiss an alert, recording who and when (and in the audit log)."""
    if decision is AlertState.OPEN:
        raise ValueError("decision: expected confirmed or dismissed")
    with database.session() as session:
        alert, notice = _visible(session, viewer, alert_id)
        previous = alert.state
        alert.state = decision
        alert.reviewed_by = viewer.actor
        alert.reviewed_at = utcnow()
        alert.review_note = note
        record_event(
            session,
            actor=viewer.actor,
            agency_id=viewer.agency_id,
            action=f"travel.alert.{'confirm' if decision is AlertState.CONFIRMED else 'dismiss'}",
            object_type="travel_alert",
            object_id=alert.id,
            detail=f"{previous.value} -> {decision.value}" + (f": {note}" if note else ""),
        )
        session.flush()
        return _view(alert, notice)


def alerts_by_notice(session: Session) -> Sequence[Any]:
    """Every alert as ``(notice_id, watch_id, score)`` (for evaluation against a scenario's truth)."""
    return session.execute(
        select(TravelNotice.notice_id, TravelAlert.watch_id, TravelAlert.score).join(
            TravelNotice, TravelNotice.id == TravelAlert.notice_id
        )
    ).all()
