"""The audit log: every read of a report and every change is written here."""

from __future__ import annotations

import getpass
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from veille.store.models import AuditEvent
from veille.store.types import utcnow


def current_actor() -> str:
    """Who is acting: ``VEILLE_USER`` or the operating-system user."""
    from veille.config import get_settings

    configured = get_settings().user
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    agency_id: int | None = None,
    detail: str | None = None,
    success: bool = True,
) -> None:
    """Append one audit event in the caller's transaction."""
    session.execute(
        insert(AuditEvent).values(
            actor=actor,
            agency_id=agency_id,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            detail=detail,
            at=utcnow(),
            success=success,
        )
    )


def events_for(session: Session, object_type: str, object_id: str | int) -> Sequence[AuditEvent]:
    """The audit trail of one object, oldest first."""
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
        .order_by(AuditEvent.id)
    ).all()
