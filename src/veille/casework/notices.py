"""Take-down notices: create one from a report or a URL, record what the provider did, read them.

Every change writes a :class:`~veille.casework.models.TakedownEvent` beside
the notice's own times, in the same transaction. A notice belongs to the
agency that sent it: reads on behalf of an agency are filtered in the query
(:func:`notices_visible_to`). :func:`notice_rows` is the door the analytics
capability reads provider statistics through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.orm import Session

from veille.casework.errors import CaseworkError, Conflict, NotFound
from veille.casework.models import (
    NoticeEventKind,
    NoticeState,
    TakedownEvent,
    TakedownNotice,
    TakedownProvider,
)
from veille.casework.providers import (
    add_domain,
    ensure_provider,
    parse_notice_url,
    provider_for_host,
)
from veille.store.audit import record_event
from veille.store.models import Agency
from veille.store.reports import ReportNotFound, Viewer, get_report
from veille.store.types import utcnow
from veille.vocab import IdentifierKind


def add_event(
    session: Session,
    notice: TakedownNotice,
    kind: NoticeEventKind,
    *,
    at: datetime,
    actor: str,
    channel: str | None,
    detail: str | None = None,
) -> None:
    """Append one event to ``notice``'s history (the caller's transaction)."""
    session.add(
        TakedownEvent(
            notice_id=notice.id, kind=kind, at=at, actor=actor, channel=channel, detail=detail
        )
    )


def create_notice(
    session: Session,
    viewer: Viewer,
    url: str | None,
    *,
    report_id: int | None = None,
    content_cluster: str | None = None,
    provider: str | None = None,
    channel: str = "cli",
) -> TakedownNotice:
    """A new notice (pending: the follow-up task sends it) from ``viewer``'s agency.

    The host comes from the URL and the provider from the host
    (:func:`~veille.casework.providers.provider_for_host`) unless ``provider``
    names one. A report, when given, must be one the agency may see; without
    ``url`` the notice is for the report's first URL identifier.
    """
    if viewer.agency_id is None:
        raise CaseworkError("as", "a notice is sent on behalf of an agency")
    report_external_id = None
    if report_id is not None:
        try:
            report = get_report(session, viewer, report_id)
        except ReportNotFound as error:
            raise NotFound(f"report_id: {error}") from None
        report_external_id = report.external_id
        if url is None:
            url = next((i.value for i in report.identifiers if i.kind is IdentifierKind.URL), None)
            if url is None:
                raise CaseworkError("url", f"report {report_id} names no URL; give one")
    if url is None:
        raise CaseworkError("url", "give a URL or a report that names one")
    parsed = parse_notice_url(url)
    if content_cluster is not None and not (0 < len(content_cluster) <= 64):
        raise CaseworkError("content_cluster", "expected 1 to 64 characters")
    if provider is not None:
        chosen = ensure_provider(session, provider)
    else:
        # A host no provider serves yet gets a provider of its own name, serving it and
        # without channels: its notices wait until someone gives it an e-mail or webhook.
        chosen = provider_for_host(session, parsed.host) or _provider_of_new_host(
            session, parsed.host
        )
    now = utcnow()
    notice = TakedownNotice(
        report_id=report_id,
        report_external_id=report_external_id,
        sender_agency_id=viewer.agency_id,
        provider_id=chosen.id,
        url=parsed.url,
        host=parsed.host,
        content_cluster=content_cluster,
        state=NoticeState.PENDING,
        created_at=now,
        notify_count=0,
    )
    session.add(notice)
    session.flush()
    add_event(session, notice, NoticeEventKind.CREATED, at=now, actor=viewer.actor, channel=channel)
    record_event(
        session,
        actor=viewer.actor,
        agency_id=viewer.agency_id,
        action="takedown.create",
        object_type="takedown_notice",
        object_id=notice.id,
        detail=f"{parsed.host} → {chosen.name}",
    )
    return notice


def _provider_of_new_host(session: Session, host: str) -> TakedownProvider:
    provider = ensure_provider(session, host)
    add_domain(session, provider, host)
    return provider


def notices_visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """The notices ``viewer`` may read: those its agency sent (all, for an administrator)."""
    if viewer.agency_id is None:
        return true()
    return TakedownNotice.sender_agency_id == viewer.agency_id


def get_notice(session: Session, viewer: Viewer, notice_id: int) -> TakedownNotice:
    """One notice ``viewer`` may read."""
    notice = session.scalar(
        select(TakedownNotice).where(TakedownNotice.id == notice_id, notices_visible_to(viewer))
    )
    if notice is None:
        raise NotFound(f"take-down notice {notice_id} does not exist or is not visible to you")
    return notice


def _confirm(
    session: Session,
    notice: TakedownNotice,
    kind: NoticeEventKind,
    *,
    at: datetime | None,
    actor: str,
    channel: str,
    note: str | None,
) -> TakedownNotice:
    moment = at or utcnow()
    if notice.state is NoticeState.REMOVED:
        raise Conflict("state", f"notice {notice.id} is already recorded as removed")
    if kind is NoticeEventKind.ACKNOWLEDGED and notice.acknowledged_at is not None:
        raise Conflict("state", f"notice {notice.id} is already acknowledged")
    earliest = notice.sent_at or notice.created_at
    if moment < earliest:
        raise Conflict(
            "at", f"before the notice was {'sent' if notice.sent_at else 'created'} ({earliest})"
        )
    if kind is NoticeEventKind.ACKNOWLEDGED:
        notice.acknowledged_at = moment
        notice.state = NoticeState.ACKNOWLEDGED
    else:
        notice.removed_at = moment
        if notice.acknowledged_at is None:
            # Removing content acknowledges the notice that asked for it.
            notice.acknowledged_at = moment
        notice.state = NoticeState.REMOVED
    add_event(session, notice, kind, at=moment, actor=actor, channel=channel, detail=note)
    record_event(
        session,
        actor=actor,
        agency_id=notice.sender_agency_id,
        action=f"takedown.{kind.value}",
        object_type="takedown_notice",
        object_id=notice.id,
        detail=note,
    )
    session.flush()
    return notice


def confirm_by_analyst(
    session: Session,
    viewer: Viewer,
    notice_id: int,
    kind: NoticeEventKind,
    *,
    at: datetime | None = None,
    note: str | None = None,
) -> TakedownNotice:
    """An analyst of the sending agency records the provider's acknowledgement or removal."""
    notice = get_notice(session, viewer, notice_id)
    return _confirm(session, notice, kind, at=at, actor=viewer.actor, channel="cli", note=note)


def confirm_by_provider(
    session: Session,
    provider: TakedownProvider,
    notice_id: int,
    kind: NoticeEventKind,
    *,
    at: datetime | None = None,
    note: str | None = None,
) -> TakedownNotice:
    """The provider (authenticated by its token) confirms a notice sent to it."""
    notice = session.scalar(
        select(TakedownNotice).where(
            TakedownNotice.id == notice_id, TakedownNotice.provider_id == provider.id
        )
    )
    if notice is None:
        raise NotFound(f"take-down notice {notice_id} was not sent to {provider.name}")
    return _confirm(
        session, notice, kind, at=at, actor=f"provider:{provider.name}", channel="api", note=note
    )


@dataclass(frozen=True)
class NoticeRow:
    """A notice as readers outside casework see it (analytics' provider statistics)."""

    id: int
    external_id: str | None
    sender_agency: str
    provider: str
    url: str
    host: str
    report_id: int | None
    report_external_id: str | None
    content_cluster: str | None
    state: str
    created_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    removed_at: datetime | None
    escalated_at: datetime | None
    notify_count: int

    def hours_to_removal(self) -> float | None:
        """Hours from first sending to removal, or ``None`` while not removed."""
        if self.sent_at is None or self.removed_at is None:
            return None
        return (self.removed_at - self.sent_at).total_seconds() / 3600

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, times in ISO 8601 UTC ending in ``Z``."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = _iso(value) if isinstance(value, datetime) else value
        out["hours_to_removal"] = self.hours_to_removal()
        return out


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _rows_statement() -> Select[TakedownNotice, str, str]:
    return (
        select(
            TakedownNotice,
            Agency.name.label("sender_agency"),
            TakedownProvider.name.label("provider"),
        )
        .join(Agency, Agency.id == TakedownNotice.sender_agency_id)
        .join(TakedownProvider, TakedownProvider.id == TakedownNotice.provider_id)
    )


def _row(notice: TakedownNotice, sender: str, provider: str) -> NoticeRow:
    return NoticeRow(
        id=notice.id,
        external_id=notice.external_id,
        sender_agency=sender,
        provider=provider,
        url=notice.url,
        host=notice.host,
        report_id=notice.report_id,
        report_external_id=notice.report_external_id,
        content_cluster=notice.content_cluster,
        state=notice.state.value,
        created_at=notice.created_at,
        sent_at=notice.sent_at,
        acknowledged_at=notice.acknowledged_at,
        removed_at=notice.removed_at,
        escalated_at=notice.escalated_at,
        notify_count=notice.notify_count,
    )


def notice_rows(
    session: Session,
    viewer: Viewer | None = None,
    *,
    provider: str | None = None,
    state: NoticeState | None = None,
    report_id: int | None = None,
    sent_from: datetime | None = None,
    sent_before: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[NoticeRow]:
    """Notices, oldest sent first (not sent yet last), for ``viewer`` (all when ``None``).

    The public door to take-down data: the analytics capability computes
    removal times per provider and period from these rows.
    """
    statement = _rows_statement()
    if viewer is not None:
        statement = statement.where(notices_visible_to(viewer))
    if provider is not None:
        statement = statement.where(TakedownProvider.name == provider)
    if state is not None:
        statement = statement.where(TakedownNotice.state == state)
    if report_id is not None:
        statement = statement.where(TakedownNotice.report_id == report_id)
    if sent_from is not None:
        statement = statement.where(TakedownNotice.sent_at >= sent_from)
    if sent_before is not None:
        statement = statement.where(TakedownNotice.sent_at < sent_before)
    statement = statement.order_by(TakedownNotice.sent_at.nulls_last(), TakedownNotice.id).offset(
        offset
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [_row(notice, sender, name) for notice, sender, name in session.execute(statement)]


def notice_history(session: Session, notice: TakedownNotice) -> Sequence[TakedownEvent]:
    """A notice's events, oldest first."""
    return session.scalars(
        select(TakedownEvent)
        .where(TakedownEvent.notice_id == notice.id)
        .order_by(TakedownEvent.at, TakedownEvent.id)
    ).all()


def notice_detail(session: Session, notice: TakedownNotice) -> dict[str, Any]:
    """A notice with its history, JSON-ready (the CLI's ``--json`` and the API)."""
    sender = session.get(Agency, notice.sender_agency_id)
    provider = session.get(TakedownProvider, notice.provider_id)
    out = _row(notice, sender.name if sender else "", provider.name if provider else "").as_dict()
    out["events"] = [
        {
            "kind": event.kind.value,
            "at": _iso(event.at),
            "actor": event.actor,
            "channel": event.channel,
            "detail": event.detail,
        }
        for event in notice_history(session, notice)
    ]
    return out


def provider_countries(session: Session) -> dict[str, str | None]:
    """Each provider's country (its agency's, when it is one), by provider name.

    Analytics places a notice in its provider's restriction period.
    """
    statement = select(TakedownProvider.name, Agency.country).outerjoin(
        Agency, Agency.id == TakedownProvider.agency_id
    )
    return {name: country for name, country in session.execute(statement)}
