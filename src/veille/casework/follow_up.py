"""Sending notices, re-notifying until removal and escalating overdue ones.

:func:`follow_up_notices` is the body of the scheduled task
``takedown.follow_up`` (:mod:`veille.casework.tasks`): each run sends the
notices never sent, sends again those not removed whose last sending is
older than ``VEILLE_TAKEDOWN_RENOTIFY_HOURS``, and escalates those not
removed ``VEILLE_TAKEDOWN_ESCALATE_HOURS`` after their first sending. It takes
``now`` so that tests drive it through time. Sending happens outside any
transaction (a slow SMTP server holds no lock); each notice's outcome is then
written in a short transaction that checks the notice was not removed
meanwhile. Only notices whose provider can be reached (an e-mail address or
a webhook) are sent; escalation needs no provider channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from veille.casework.delivery import (
    DeliveryFailed,
    Mailer,
    NoticeMessage,
    send_webhook,
)
from veille.casework.errors import NotFound
from veille.casework.models import NoticeEventKind, NoticeState, TakedownNotice, TakedownProvider
from veille.casework.notices import add_event
from veille.casework.settings import CaseworkSettings
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.models import Agency
from veille.store.types import utcnow

BATCH = 200
"""Notices sent per run at most; the next run takes the rest."""
ACTOR = "takedown.follow_up"


@dataclass
class FollowUpSummary:
    """What one run did."""

    sent: int = 0
    renotified: int = 0
    failed: int = 0
    escalated: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "renotified": self.renotified,
            "failed": self.failed,
            "escalated": self.escalated,
            "failures": self.failures[:20],
        }

    def describe(self) -> str:
        return (
            f"{self.sent} sent, {self.renotified} re-notified, {self.failed} failed, "
            f"{self.escalated} escalated"
        )


@dataclass(frozen=True)
class _Outgoing:
    notice_id: int
    first: bool
    message: NoticeMessage
    email: str | None
    webhook_url: str | None
    webhook_secret: str | None


def _deliver(
    settings: CaseworkSettings, mailer: Mailer, outgoing: _Outgoing, now: datetime
) -> tuple[list[str], list[str]]:
    delivered: list[str] = []
    errors: list[str] = []
    if outgoing.email:
        try:
            mailer.send(outgoing.email, outgoing.message)
            delivered.append("email")
        except DeliveryFailed as error:
            errors.append(str(error))
    if outgoing.webhook_url and outgoing.webhook_secret:
        try:
            send_webhook(
                settings,
                outgoing.webhook_url,
                outgoing.webhook_secret,
                outgoing.message,
                now.timestamp(),
            )
            delivered.append("webhook")
        except DeliveryFailed as error:
            errors.append(str(error))
    return delivered, errors


def _due(
    database: Database, now: datetime, settings: CaseworkSettings, notice_id: int | None
) -> list[_Outgoing]:
    renotify_before = now - timedelta(hours=settings.takedown_renotify_hours)
    statement = (
        select(TakedownNotice, TakedownProvider, Agency.name)
        .join(TakedownProvider, TakedownProvider.id == TakedownNotice.provider_id)
        .join(Agency, Agency.id == TakedownNotice.sender_agency_id)
        .where(
            TakedownNotice.state != NoticeState.REMOVED,
            or_(
                TakedownProvider.contact_email.is_not(None),
                TakedownProvider.webhook_url.is_not(None),
            ),
        )
    )
    if notice_id is not None:
        statement = statement.where(TakedownNotice.id == notice_id)
    else:
        statement = statement.where(
            or_(
                TakedownNotice.sent_at.is_(None),
                TakedownNotice.last_notified_at <= renotify_before,
            )
        )
    statement = statement.order_by(TakedownNotice.last_notified_at.nulls_first(), TakedownNotice.id)
    with database.session() as session:
        rows = session.execute(statement.limit(BATCH)).all()
        return [
            _Outgoing(
                notice_id=notice.id,
                first=notice.sent_at is None,
                message=NoticeMessage(
                    notice_id=notice.id,
                    url=notice.url,
                    host=notice.host,
                    sender_agency=sender,
                    provider=provider.name,
                    kind="notice" if notice.sent_at is None else "reminder",
                    sent_count=notice.notify_count + 1,
                ),
                email=provider.contact_email,
                webhook_url=provider.webhook_url,
                webhook_secret=provider.webhook_secret,
            )
            for notice, provider, sender in rows
        ]


def _record_delivery(
    database: Database,
    outgoing: _Outgoing,
    delivered: list[str],
    errors: list[str],
    now: datetime,
    actor: str,
    summary: FollowUpSummary,
) -> None:
    with database.session() as session:
        notice = session.get(TakedownNotice, outgoing.notice_id, with_for_update=True)
        if notice is None or notice.state is NoticeState.REMOVED:
            return
        detail = "; ".join(errors) or None
        if not delivered:
            summary.failed += 1
            summary.failures.extend(errors)
            add_event(
                session, notice, NoticeEventKind.SEND_FAILED, at=now, actor=actor,
                channel=None, detail=detail,
            )  # fmt: skip
            return
        channel = "+".join(delivered)
        if notice.sent_at is None:
            notice.sent_at = now
            if notice.state is NoticeState.PENDING:
                notice.state = NoticeState.SENT
            kind = NoticeEventKind.SENT
            summary.sent += 1
        else:
            kind = NoticeEventKind.RENOTIFIED
            summary.renotified += 1
        notice.last_notified_at = now
        notice.notify_count += 1
        add_event(session, notice, kind, at=now, actor=actor, channel=channel, detail=detail)


def send_notices(
    database: Database,
    *,
    now: datetime | None = None,
    settings: CaseworkSettings | None = None,
    notice_id: int | None = None,
    actor: str = ACTOR,
) -> FollowUpSummary:
    """Send the notices due (never sent, or not removed and last sent long enough ago).

    With ``notice_id``, send that one notice now, due or not (``veille takedown send``).
    """
    moment = now or utcnow()
    config = settings or CaseworkSettings()
    summary = FollowUpSummary()
    due = _due(database, moment, config, notice_id)
    if notice_id is not None and not due:
        raise NotFound(
            f"notice {notice_id} does not exist, is removed, or its provider has no "
            "e-mail address or webhook"
        )
    mailer = Mailer(config)
    for outgoing in due:
        delivered, errors = _deliver(config, mailer, outgoing, moment)
        _record_delivery(database, outgoing, delivered, errors, moment, actor, summary)
    return summary


def escalate_overdue(
    database: Database,
    *,
    now: datetime | None = None,
    settings: CaseworkSettings | None = None,
    summary: FollowUpSummary | None = None,
) -> FollowUpSummary:
    """Escalate notices not removed long after their first sending (once each).

    The sending agency is told by e-mail when it has a contact address; the
    escalation is recorded whether or not that e-mail goes through.
    """
    moment = now or utcnow()
    config = settings or CaseworkSettings()
    result = summary or FollowUpSummary()
    overdue_before = moment - timedelta(hours=config.takedown_escalate_hours)
    mailer = Mailer(config)
    with database.session() as session:
        rows = session.execute(
            select(TakedownNotice, Agency, TakedownProvider.name)
            .join(Agency, Agency.id == TakedownNotice.sender_agency_id)
            .join(TakedownProvider, TakedownProvider.id == TakedownNotice.provider_id)
            .where(
                TakedownNotice.state != NoticeState.REMOVED,
                TakedownNotice.escalated_at.is_(None),
                TakedownNotice.sent_at <= overdue_before,
            )
            .order_by(TakedownNotice.id)
            .limit(BATCH * 5)
        ).all()
        for notice, agency, provider in rows:
            detail = f"not removed {config.takedown_escalate_hours:g} h after sending"
            if agency.contact:
                message = NoticeMessage(
                    notice.id, notice.url, notice.host, agency.name, provider, "escalation",
                    notice.notify_count,
                )  # fmt: skip
                try:
                    mailer.send(agency.contact, message)
                    detail += f"; {agency.contact} told"
                except DeliveryFailed as error:
                    detail += f"; {error}"
            notice.escalated_at = moment
            add_event(
                session, notice, NoticeEventKind.ESCALATED, at=moment, actor=ACTOR,
                channel="schedule", detail=detail,
            )  # fmt: skip
            record_event(
                session,
                actor=ACTOR,
                agency_id=notice.sender_agency_id,
                action="takedown.escalate",
                object_type="takedown_notice",
                object_id=notice.id,
                detail=detail,
            )
            result.escalated += 1
    return result


def follow_up_notices(
    database: Database,
    *,
    now: datetime | None = None,
    settings: CaseworkSettings | None = None,
) -> FollowUpSummary:
    """The scheduled task's body: send what is due, then escalate what is overdue."""
    moment = now or utcnow()
    summary = send_notices(database, now=moment, settings=settings)
    escalate_overdue(database, now=moment, settings=settings, summary=summary)
    return summary
