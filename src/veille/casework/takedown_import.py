"""Importing take-down notices from JSON Lines (the scenario's ``takedowns.jsonl``).

A line: ``notice_id, report_external_id, sender_agency, provider_agency, url,
host, sent_at, acknowledged_at, removed_at`` (``host`` optional: it is derived
from the URL, and a given one must agree). Every line is checked first; any
problem refuses the whole file, naming line and field, and nothing is
written. A ``notice_id`` already stored is counted as unchanged. Providers
are made by name when new, and each URL's host is registered as served by
its provider when no provider serves it yet, so that notices created later
for that host find their provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from veille.casework.errors import CaseworkError, ImportRefused, LineProblem
from veille.casework.lines import AwareTime, read_lines
from veille.casework.models import (
    NoticeEventKind,
    NoticeState,
    TakedownEvent,
    TakedownNotice,
    TakedownProvider,
)
from veille.casework.notices import add_event
from veille.casework.providers import add_domain as register_domain
from veille.casework.providers import ensure_provider, parse_notice_url, provider_for_host
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.models import Agency, Report
from veille.store.types import utcnow


class NoticeLine(BaseModel):
    """One line of ``takedowns.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    notice_id: str = Field(min_length=1, max_length=200)
    report_external_id: str | None = Field(default=None, max_length=200)
    sender_agency: str = Field(min_length=1, max_length=200)
    provider_agency: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2000)
    host: str | None = Field(default=None, max_length=253)
    content_cluster: str | None = Field(default=None, max_length=64)
    sent_at: AwareTime
    acknowledged_at: AwareTime | None = None
    removed_at: AwareTime | None = None

    @model_validator(mode="after")
    def _times_in_order(self) -> NoticeLine:
        for name in ("acknowledged_at", "removed_at"):
            value: datetime | None = getattr(self, name)
            if value is not None and value < self.sent_at:
                raise ValueError(f"{name} is before sent_at")
        return self


@dataclass
class ImportSummary:
    """What an import did."""

    imported: int = 0
    updated: int = 0
    """Notices stored before whose acknowledgement or removal this file adds."""
    unchanged: int = 0
    providers_added: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _line_problems(
    session: Session, records: list[tuple[int, NoticeLine]]
) -> tuple[list[LineProblem], dict[str, int], dict[int, str]]:
    problems: list[LineProblem] = []
    names = {record.sender_agency for _, record in records}
    agencies: dict[str, int] = {
        name: agency_id
        for name, agency_id in session.execute(
            select(Agency.name, Agency.id).where(Agency.name.in_(names))
        )
    }
    hosts: dict[int, str] = {}
    seen: dict[str, int] = {}
    for number, record in records:
        if record.sender_agency not in agencies:
            problems.append(
                LineProblem(number, "sender_agency", f"no agency {record.sender_agency!r}")
            )
        try:
            parsed = parse_notice_url(record.url)
        except CaseworkError as error:
            problems.append(LineProblem(number, error.field, error.reason))
            continue
        if record.host is not None and record.host.rstrip(".").lower() != parsed.host:
            problems.append(
                LineProblem(number, "host", f"{record.host!r} is not the URL's host {parsed.host}")
            )
        hosts[number] = parsed.host
        if record.notice_id in seen:
            problems.append(
                LineProblem(number, "notice_id", f"already on line {seen[record.notice_id]}")
            )
        seen[record.notice_id] = number
    return problems, agencies, hosts


def _report_ids(session: Session, external_ids: set[str]) -> dict[str, int]:
    """Report ids by external id, for the external ids that name exactly one report."""
    found: dict[str, list[int]] = {}
    chunk = sorted(external_ids)
    for start in range(0, len(chunk), 500):
        rows = session.execute(
            select(Report.external_id, Report.id).where(
                Report.external_id.in_(chunk[start : start + 500])
            )
        )
        for external_id, report_id in rows:
            found.setdefault(external_id, []).append(report_id)
    return {key: ids[0] for key, ids in found.items() if len(ids) == 1}


def _stored_notices(session: Session, external_ids: list[str]) -> dict[str, TakedownNotice]:
    found: dict[str, TakedownNotice] = {}
    for start in range(0, len(external_ids), 500):
        for notice in session.scalars(
            select(TakedownNotice).where(
                TakedownNotice.external_id.in_(external_ids[start : start + 500])
            )
        ):
            found[notice.external_id or ""] = notice
    return found


def _compare(
    notice: TakedownNotice,
    record: NoticeLine,
    agencies: dict[str, int],
    provider_names: dict[int, str],
) -> tuple[list[tuple[str, str]], dict[str, datetime]]:
    """What contradicts the stored notice, and the times the line adds to it."""
    problems = []
    same = {
        "url": notice.url == record.url.strip(),
        "sender_agency": notice.sender_agency_id == agencies.get(record.sender_agency),
        "provider_agency": provider_names.get(notice.provider_id) == record.provider_agency,
        "sent_at": notice.sent_at == record.sent_at,
    }
    for field, equal in same.items():
        if not equal:
            problems.append((field, f"notice {record.notice_id} is stored with another {field}"))
    changes: dict[str, datetime] = {}
    for field in ("acknowledged_at", "removed_at"):
        given: datetime | None = getattr(record, field)
        kept: datetime | None = getattr(notice, field)
        if given is None or given == kept:
            continue
        if kept is not None:
            problems.append((field, f"notice {record.notice_id} is stored with {field} {kept}"))
        else:
            changes[field] = given
    return problems, changes


def _apply(
    session: Session, notice: TakedownNotice, changes: dict[str, datetime], actor: str
) -> None:
    """Add a later acknowledgement or removal to a stored notice, with its events."""
    for field, kind in (
        ("acknowledged_at", NoticeEventKind.ACKNOWLEDGED),
        ("removed_at", NoticeEventKind.REMOVED),
    ):
        if field in changes:
            setattr(notice, field, changes[field])
            add_event(session, notice, kind, at=changes[field], actor=actor, channel="import")
    notice.state = NoticeState.REMOVED if notice.removed_at else NoticeState.ACKNOWLEDGED


def _insert_notices(
    session: Session, rows: list[dict[str, Any]], records: list[NoticeLine], actor: str
) -> None:
    """Insert new notices and their events, a thousand per statement."""
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        ids = session.scalars(
            insert(TakedownNotice).returning(TakedownNotice.id, sort_by_parameter_order=True),
            chunk,
        ).all()
        events = [
            {"notice_id": notice_id, "kind": kind, "at": at, "actor": actor, "channel": "import"}
            for notice_id, record in zip(ids, records[start : start + 1000], strict=True)
            for kind, at in (
                (NoticeEventKind.SENT, record.sent_at),
                (NoticeEventKind.ACKNOWLEDGED, record.acknowledged_at),
                (NoticeEventKind.REMOVED, record.removed_at),
            )
            if at is not None
        ]
        if events:
            session.execute(insert(TakedownEvent), events)


def import_notices(database: Database, path: Path, *, actor: str) -> ImportSummary:
    """Import ``path`` (all or nothing); raises :class:`ImportRefused` naming every bad line."""
    records, problems = read_lines(path, NoticeLine)
    summary = ImportSummary()
    with database.session() as session:
        found, agencies, hosts = _line_problems(session, records)
        problems.extend(found)
        stored = _stored_notices(session, [r.notice_id for _, r in records])
        updates: list[tuple[TakedownNotice, dict[str, datetime]]] = []
        provider_names: dict[int, str] = {
            provider_id: name
            for provider_id, name in session.execute(
                select(TakedownProvider.id, TakedownProvider.name)
            )
        }
        for number, record in records:
            existing = stored.get(record.notice_id)
            if existing is None:
                continue
            contradictions, changes = _compare(existing, record, agencies, provider_names)
            problems.extend(LineProblem(number, f, reason) for f, reason in contradictions)
            if changes:
                updates.append((existing, changes))
        if problems:
            raise ImportRefused(sorted(problems, key=lambda p: p.line))
        for notice, changes in updates:
            _apply(session, notice, changes, actor)
        summary.updated = len(updates)
        updated_ids = {notice.external_id for notice, _ in updates}
        reports = _report_ids(
            session, {r.report_external_id for _, r in records if r.report_external_id}
        )
        providers: dict[str, int] = {}
        served_hosts: set[str] = set()
        new_rows: list[dict[str, Any]] = []
        new_records: list[NoticeLine] = []
        now = utcnow()
        for number, record in records:
            if record.notice_id in stored:
                summary.unchanged += record.notice_id not in updated_ids
                continue
            if record.provider_agency not in providers:
                known = session.scalar(
                    select(TakedownProvider.id).where(
                        TakedownProvider.name == record.provider_agency
                    )
                )
                summary.providers_added += int(known is None)
                providers[record.provider_agency] = ensure_provider(
                    session, record.provider_agency
                ).id
            provider_id = providers[record.provider_agency]
            host = hosts[number]
            if host not in served_hosts and provider_for_host(session, host) is None:
                register_domain(session, ensure_provider(session, record.provider_agency), host)
            served_hosts.add(host)
            state = (
                NoticeState.REMOVED
                if record.removed_at
                else NoticeState.ACKNOWLEDGED
                if record.acknowledged_at
                else NoticeState.SENT
            )
            new_rows.append(
                {
                    "external_id": record.notice_id,
                    "report_id": reports.get(record.report_external_id or ""),
                    "report_external_id": record.report_external_id,
                    "sender_agency_id": agencies[record.sender_agency],
                    "provider_id": provider_id,
                    "url": record.url.strip(),
                    "host": host,
                    "content_cluster": record.content_cluster,
                    "state": state,
                    "created_at": now,
                    "sent_at": record.sent_at,
                    "last_notified_at": record.sent_at,
                    "notify_count": 1,
                    "acknowledged_at": record.acknowledged_at,
                    "removed_at": record.removed_at,
                }
            )
            new_records.append(record)
        _insert_notices(session, new_rows, new_records, actor)
        summary.imported = len(new_rows)
        record_event(
            session,
            actor=actor,
            action="takedown.import",
            object_type="file",
            object_id=path.name[:200],
            detail=f"{summary.imported} imported, {summary.updated} updated, "
            f"{summary.unchanged} unchanged",
        )
    return summary
