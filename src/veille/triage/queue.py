"""The work queue of an agency: ordered by band, then score, then due time; states and capacity.

Within a band the report with the stronger evidence of danger comes first
(its score); the due time (arrival plus the band's hours) breaks ties and
says what is overdue. Ordered by due time alone, a band would be worked
oldest first whatever its reports say.

Each agency has its own queue: the reports it owns (once scored) and those
referred to it. Items move through ``new → assigned → in_progress → closed``
(with an outcome); referral moves the referring agency's item to
``referred``. The unit's capacity (reports per day) tells which items will
not be reached today.

Time-dependent answers (overdue, due later today, handled today, what the
capacity will not reach) are evaluated at ``as_of``, by default now; a report
received after ``as_of`` is not in the queue at that moment. States are
today's: the queue is not rebuilt as it stood then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from veille.store.audit import record_event
from veille.store.models import Report
from veille.store.types import utcnow
from veille.store.visibility import report_visible_to
from veille.triage.models import Outcome, QueueItem, QueueState, TriageScore, UnitCapacity
from veille.triage.policy import BANDS

OPEN_STATES = (QueueState.NEW, QueueState.ASSIGNED, QueueState.IN_PROGRESS)

# Which state an item may move to from each state (referred is set by referral only).
TRANSITIONS: dict[QueueState, frozenset[QueueState]] = {
    QueueState.NEW: frozenset({QueueState.ASSIGNED, QueueState.IN_PROGRESS, QueueState.CLOSED}),
    QueueState.ASSIGNED: frozenset(
        {QueueState.NEW, QueueState.ASSIGNED, QueueState.IN_PROGRESS, QueueState.CLOSED}
    ),
    QueueState.IN_PROGRESS: frozenset({QueueState.ASSIGNED, QueueState.CLOSED}),
    QueueState.REFERRED: frozenset({QueueState.NEW, QueueState.CLOSED}),
    QueueState.CLOSED: frozenset({QueueState.NEW}),
}


class QueueError(ValueError):
    """A queue action that is not allowed (wrong state, missing assignee or outcome)."""


class QueueItemNotFound(LookupError):
    """The report is not in the agency's queue (or not visible to it)."""


@dataclass(frozen=True)
class QueueView:
    """One page of a queue and what the unit's capacity says about it."""

    agency_id: int
    items: list[dict[str, Any]]
    open_total: int
    open_by_band: dict[str, int]
    capacity_per_day: int | None
    handled_today: int
    not_reached_today: int | None
    not_reached_by_band: dict[str, int]
    overdue: int
    due_later_today: int
    as_of: datetime

    def summary(self) -> str:
        """One sentence for the top of the queue."""
        return "; ".join(self.summary_parts())

    def summary_parts(self) -> list[str]:
        """The summary's parts: what is open, what is late, what capacity leaves out."""
        bands = ", ".join(f"{band} {self.open_by_band[band]}" for band in BANDS)
        parts = [
            f"{self.open_total} open ({bands})",
            f"{self.overdue} overdue, {self.due_later_today} due later today",
        ]
        if self.capacity_per_day is None:
            return [*parts, "no capacity set (veille triage capacity set)"]
        missed = ", ".join(
            f"{band} {count}" for band, count in self.not_reached_by_band.items() if count
        )
        return [
            *parts,
            f"capacity {self.capacity_per_day}/day, {self.handled_today} handled today: "
            + f"{self.not_reached_today} will not be reached today"
            + (f" ({missed})" if missed else ""),
        ]


def set_capacity(session: Session, agency_id: int, reports_per_day: int, actor: str) -> None:
    """Set how many reports a unit can assess per day."""
    if reports_per_day < 0:
        raise QueueError("reports_per_day: expected a whole number ≥ 0")
    row = session.get(UnitCapacity, agency_id)
    if row is None:
        session.add(UnitCapacity(agency_id=agency_id, reports_per_day=reports_per_day))
    else:
        row.reports_per_day = reports_per_day
        row.updated_at = utcnow()
    record_event(
        session,
        actor=actor,
        agency_id=agency_id,
        action="triage.capacity",
        object_type="agency",
        object_id=agency_id,
        detail=f"{reports_per_day} reports/day",
    )


QUEUE_ORDERS = ("queue", "newest", "oldest")
"""How a queue page may be sorted: most urgent first, or by arrival."""


def _band_order() -> Any:
    # P1 < P2 < ... sorts correctly as text; kept explicit for readers.
    return TriageScore.band


def queue_for(
    session: Session,
    agency_id: int,
    actor: str,
    *,
    states: tuple[QueueState, ...] = OPEN_STATES,
    assignee: str | None = None,
    bands: tuple[str, ...] | None = None,
    order: str = "queue",
    limit: int = 50,
    offset: int = 0,
    as_of: datetime | None = None,
) -> QueueView:
    """The agency's queue at ``as_of`` (default now), most urgent first, with the day's forecast.

    ``as_of`` (timezone-aware; a naive time is taken as UTC) decides which
    items are overdue or due later that day (UTC), what was handled that day
    and so what the capacity will not reach; reports received after it are
    left out. ``bands`` keeps only those bands in the page; ``order`` is
    ``queue`` (most urgent first), ``newest`` or ``oldest`` (arrival).
    """
    if order not in QUEUE_ORDERS:
        raise QueueError(f"order: expected one of {', '.join(QUEUE_ORDERS)}, got {order!r}")
    as_of = utcnow() if as_of is None else as_of
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    as_of = as_of.astimezone(UTC)
    day_start = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day_start + timedelta(days=1)
    visible = and_(report_visible_to(agency_id), Report.received_at <= as_of)
    base = (
        select(QueueItem, TriageScore, Report.received_at, Report.derived_country)
        .join(TriageScore, TriageScore.report_id == QueueItem.report_id)
        .join(Report, Report.id == QueueItem.report_id)
        .where(QueueItem.agency_id == agency_id, visible)
    )
    statement = base.where(QueueItem.state.in_(list(states)))
    if assignee is not None:
        statement = statement.where(QueueItem.assignee == assignee)
    if bands:
        statement = statement.where(TriageScore.band.in_(list(bands)))
    ordering: tuple[Any, ...] = (
        _band_order(),
        TriageScore.score.desc(),
        TriageScore.due_at,
        QueueItem.report_id,
    )
    if order == "newest":
        ordering = (Report.received_at.desc(), QueueItem.report_id.desc())
    elif order == "oldest":
        ordering = (Report.received_at, QueueItem.report_id)
    rows = session.execute(statement.order_by(*ordering).limit(limit).offset(offset)).all()
    open_by_band = dict.fromkeys(BANDS, 0)
    for band, count in session.execute(
        select(TriageScore.band, func.count())
        .join(QueueItem, QueueItem.report_id == TriageScore.report_id)
        .join(Report, Report.id == QueueItem.report_id)
        .where(QueueItem.agency_id == agency_id, visible, QueueItem.state.in_(OPEN_STATES))
        .group_by(TriageScore.band)
    ):
        open_by_band[band] = count
    overdue, due_later_today = session.execute(
        select(
            func.count(case((TriageScore.due_at < as_of, 1))),
            func.count(case((and_(TriageScore.due_at >= as_of, TriageScore.due_at < day_end), 1))),
        )
        .select_from(QueueItem)
        .join(TriageScore, TriageScore.report_id == QueueItem.report_id)
        .join(Report, Report.id == QueueItem.report_id)
        .where(QueueItem.agency_id == agency_id, visible, QueueItem.state.in_(OPEN_STATES))
    ).one()
    handled_today = (
        session.scalar(
            select(func.count())
            .select_from(QueueItem)
            .where(
                QueueItem.agency_id == agency_id,
                QueueItem.state.in_([QueueState.CLOSED, QueueState.REFERRED]),
                QueueItem.updated_at >= day_start,
                QueueItem.updated_at <= as_of,
            )
        )
        or 0
    )
    capacity_row = session.get(UnitCapacity, agency_id)
    capacity = None if capacity_row is None else capacity_row.reports_per_day
    open_total = sum(open_by_band.values())
    remaining = None if capacity is None else max(0, capacity - handled_today)
    not_reached_by_band = dict.fromkeys(BANDS, 0)
    if remaining is not None:
        budget = remaining
        for band in BANDS:
            reached = min(budget, open_by_band[band])
            not_reached_by_band[band] = open_by_band[band] - reached
            budget -= reached
    items = []
    for position, (item, score, received_at, country) in enumerate(rows, start=offset + 1):
        open_item = item.state in OPEN_STATES
        items.append(
            {
                "position": position,
                "report_id": item.report_id,
                "band": score.band,
                "score": score.score,
                "due_at": score.due_at,
                "overdue": open_item and score.due_at < as_of,
                "due_later_today": open_item and as_of <= score.due_at < day_end,
                "reached_today": None
                if remaining is None or not open_item
                else position <= remaining,
                "state": item.state,
                "assignee": item.assignee,
                "outcome": item.outcome,
                "received_at": received_at,
                "country": country,
                "reasons": score.reasons,
            }
        )
    record_event(
        session,
        actor=actor,
        agency_id=agency_id,
        action="triage.queue.read",
        object_type="triage_queue",
        object_id=agency_id,
        detail=f"{len(items)} of {open_total} open shown",
    )
    return QueueView(
        agency_id=agency_id,
        items=items,
        open_total=open_total,
        open_by_band=open_by_band,
        capacity_per_day=capacity,
        handled_today=handled_today,
        not_reached_today=None if remaining is None else max(0, open_total - remaining),
        not_reached_by_band=not_reached_by_band,
        overdue=overdue or 0,
        due_later_today=due_later_today or 0,
        as_of=as_of,
    )


def change_state(
    session: Session,
    agency_id: int,
    report_id: int,
    state: QueueState,
    actor: str,
    *,
    assignee: str | None = None,
    outcome: Outcome | None = None,
    note: str | None = None,
) -> QueueItem:
    """Move a report in the agency's queue; the move must be allowed from its current state."""
    item = session.scalar(
        select(QueueItem)
        .join(Report, Report.id == QueueItem.report_id)
        .where(
            QueueItem.agency_id == agency_id,
            QueueItem.report_id == report_id,
            report_visible_to(agency_id),
        )
    )
    if item is None:
        raise QueueItemNotFound(f"report {report_id} is not in your agency's queue")
    state = QueueState(state)
    if state is QueueState.REFERRED:
        raise QueueError("state: use 'veille refer' to refer a report (it records to whom and why)")
    if state not in TRANSITIONS[item.state]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[item.state])) or "none"
        raise QueueError(
            f"state: report {report_id} is {item.state.value}; it can move to {allowed}, "
            f"not {state.value}"
        )
    if state is QueueState.ASSIGNED and not (assignee or "").strip():
        raise QueueError("assignee: required to assign a report (an analyst's name)")
    if state is QueueState.CLOSED and outcome is None:
        choices = ", ".join(o.value for o in Outcome)
        raise QueueError(f"outcome: required to close a report (one of {choices})")
    previous = item.state
    item.state = state
    if state is QueueState.ASSIGNED:
        item.assignee = (assignee or "").strip()
    elif state is QueueState.NEW:
        item.assignee = None
        item.outcome = None
    elif state is QueueState.IN_PROGRESS and assignee:
        item.assignee = assignee.strip()
    if state is QueueState.CLOSED:
        item.outcome = Outcome(outcome) if outcome is not None else None
    if note:
        item.note = note
    item.updated_at = utcnow()
    item.updated_by = actor
    record_event(
        session,
        actor=actor,
        agency_id=agency_id,
        action="triage.queue.state",
        object_type="report",
        object_id=report_id,
        detail=f"{previous.value} → {state.value}"
        + (f" ({item.assignee})" if item.assignee else "")
        + (f" outcome {item.outcome.value}" if item.outcome else ""),
    )
    session.flush()
    return item
