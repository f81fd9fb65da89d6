"""Database usage per agency and period: log-ins, queries, uploads, and who stopped.

Use comes from two places: Veille's own audit log (every read and write is
an audit event) and imported usage events (``veille trends import-usage``:
another database's export, or the scenario's ``usage-events.jsonl``). The
seed's figure — the share of regular users whose use stopped or fell by half
or more during the restrictions — is recomputed from them: an agency is a
*regular user* when it used the database in at least ``regular_share`` of the
baseline's weeks; it *stopped* when it has no event in the compared period,
and *reduced* when its events per week fell by at least ``drop``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from veille.analytics.models import UsageEvent
from veille.analytics.periods import Period, PeriodSet
from veille.analytics.series import MAX_PERIODS
from veille.store.db import Database
from veille.store.models import Agency

ACTIONS = ("login", "query", "upload")
PLURALS = {"login": "logins", "query": "queries", "upload": "uploads"}
MAX_LINE_BYTES = 4096
MAX_ERRORS_SHOWN = 20

AUDIT_ACTIONS = {
    "login": ("session.login", "esp.login"),
    "query": (
        "report.list",
        "report.read",
        "cluster.list",
        "cluster.read",
        "triage.queue.read",
        "triage.explain",
        "trends.read",
    ),
    "upload": ("report.import", "report.receive", "esp.finish"),
}
"""Which audit events count as which use (Veille's own use of itself)."""


class UsageImportError(ValueError):
    """A usage file with bad lines: nothing of it was written; ``errors`` name line and field."""

    def __init__(self, errors: list[str]):
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f"\n… and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        super().__init__("\n".join(shown) + more)
        self.errors = errors


@dataclass
class UsageImportSummary:
    lines: int = 0
    imported: int = 0
    already_present: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "lines": self.lines,
            "imported": self.imported,
            "already_present": self.already_present,
        }


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 time with its offset")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("a time without an offset is ambiguous; add Z or +HH:MM")
    return parsed.astimezone(UTC)


def _validated(
    number: int, line: str, agencies: dict[str, int]
) -> tuple[dict[str, Any] | None, list[str]]:
    where = f"line {number}"
    if len(line.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES:
        return None, [f"{where}: longer than {MAX_LINE_BYTES} bytes"]
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as error:
        return None, [f"{where}: not JSON ({getattr(error, 'msg', 'too deep')})"]
    if not isinstance(record, dict):
        return None, [f"{where}: expected a JSON object"]
    errors = []
    row: dict[str, Any] = {}
    for name in ("event_id", "agency", "user"):
        value = record.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            errors.append(f"{where}: {name}: required text of at most 200 characters")
        else:
            row[name] = value.strip()
    if "agency" in row:
        agency_id = agencies.get(row["agency"].casefold())
        if agency_id is None:
            errors.append(
                f"{where}: agency: {row['agency']!r} is not a known agency (veille agencies list)"
            )
        row["agency_id"] = agency_id
    action = record.get("action")
    if action not in ACTIONS:
        errors.append(f"{where}: action: {action!r} is not one of {', '.join(ACTIONS)}")
    row["action"] = action
    items = record.get("items", 1)
    if not isinstance(items, int) or isinstance(items, bool) or not 0 <= items <= 1_000_000:
        errors.append(f"{where}: items: expected a whole number from 0 to 1000000")
    row["items"] = items
    try:
        row["at"] = _parse_time(record.get("at"))
    except ValueError as error:
        errors.append(f"{where}: at: {error}")
    return (None if errors else row), errors


def import_usage(database: Database, lines: Iterable[str], source: str) -> UsageImportSummary:
    """Import usage events (JSON Lines); all lines or none, idempotent on (source, event_id)."""
    summary = UsageImportSummary()
    with database.session() as session:
        agencies = {
            name.casefold(): id_ for id_, name in session.execute(select(Agency.id, Agency.name))
        }
        existing = set(
            session.scalars(select(UsageEvent.event_id).where(UsageEvent.source == source))
        )
        rows: list[dict[str, Any]] = []
        errors: list[str] = []
        seen: set[str] = set()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            summary.lines += 1
            row, problems = _validated(number, line, agencies)
            errors.extend(problems)
            if row is None:
                continue
            if row["event_id"] in existing or row["event_id"] in seen:
                summary.already_present += 1
                continue
            seen.add(row["event_id"])
            rows.append(
                {
                    "source": source,
                    "event_id": row["event_id"],
                    "agency_id": row["agency_id"],
                    "user": row["user"],
                    "action": row["action"],
                    "items": row["items"],
                    "at": row["at"],
                }
            )
        if errors:
            raise UsageImportError(errors)
        for start in range(0, len(rows), 5000):
            session.execute(insert(UsageEvent), rows[start : start + 5000])
        summary.imported = len(rows)
    return summary


def read_lines(path: Path) -> Iterable[str]:
    """The file's lines; a line longer than the limit is cut (so it is refused) and not held whole."""
    with path.open(encoding="utf-8", errors="strict") as stream:
        while True:
            line = stream.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_LINE_BYTES and not line.endswith("\n"):
                # Skip the rest of the line in bounded pieces.
                rest = stream.readline(MAX_LINE_BYTES)
                while rest and not rest.endswith("\n"):
                    rest = stream.readline(MAX_LINE_BYTES)
            yield line


@dataclass
class AgencyUsage:
    """One agency's use in the baseline and in the compared period."""

    agency: str
    country: str | None
    baseline_weeks: int
    active_baseline_weeks: int
    period_weeks: int
    baseline: dict[str, int] = field(default_factory=dict)
    period: dict[str, int] = field(default_factory=dict)
    regular: bool = False
    status: str = ""

    def per_week(self, counts: dict[str, int], weeks: int) -> float:
        return sum(counts.values()) / weeks if weeks else 0.0

    def as_dict(self) -> dict[str, Any]:
        before = self.per_week(self.baseline, self.baseline_weeks)
        during = self.per_week(self.period, self.period_weeks)
        return {
            "agency": self.agency,
            "country": self.country,
            "regular": self.regular,
            "active_baseline_weeks": f"{self.active_baseline_weeks}/{self.baseline_weeks}",
            "baseline_per_week": round(before, 2),
            "period_per_week": round(during, 2),
            "ratio": round(during / before, 3) if before else None,
            **{f"baseline_{PLURALS[a]}": self.baseline.get(a, 0) for a in ACTIONS},
            **{f"period_{PLURALS[a]}": self.period.get(a, 0) for a in ACTIONS},
            "status": self.status,
        }


@dataclass
class UsageResult:
    baseline: str
    period: str
    regular_share: float
    drop: float
    agencies: list[AgencyUsage]

    @property
    def regular(self) -> list[AgencyUsage]:
        return [a for a in self.agencies if a.regular]

    @property
    def stopped_or_reduced(self) -> int:
        return sum(1 for a in self.regular if a.status in ("stopped", "reduced"))

    def as_dict(self) -> dict[str, Any]:
        regular = len(self.regular)
        return {
            "baseline": self.baseline,
            "period": self.period,
            "regular_share": self.regular_share,
            "drop": self.drop,
            "regular_users": regular,
            "stopped": sum(1 for a in self.regular if a.status == "stopped"),
            "reduced": sum(1 for a in self.regular if a.status == "reduced"),
            "stopped_or_reduced": self.stopped_or_reduced,
            "share_stopped_or_reduced": round(self.stopped_or_reduced / regular, 3)
            if regular
            else None,
            "agencies": [a.as_dict() for a in self.agencies],
        }


def _week_sql(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"CAST(date_trunc('week', {column} AT TIME ZONE 'UTC') AS DATE)"
    return f"date({column}, '-6 days', 'weekday 1')"


def _weekly_use(
    session: Session, sources: str, agency_id: int | None
) -> dict[int, dict[date, dict[str, int]]]:
    """Events per agency, week and action, counted in SQL."""
    dialect = session.get_bind().dialect.name
    parts = []
    params: dict[str, Any] = {}
    only = " AND agency_id = :agency" if agency_id is not None else ""
    if agency_id is not None:
        params["agency"] = agency_id
    if sources in ("all", "imported"):
        parts.append(
            f"SELECT agency_id, {_week_sql(dialect, 'at')} AS week, action, COUNT(*) AS n "
            f"FROM analytics_usage_event WHERE 1 = 1{only} GROUP BY 1, 2, 3"
        )
    if sources in ("all", "audit"):
        for action, audit_actions in AUDIT_ACTIONS.items():
            names = ", ".join(f"'{a}'" for a in audit_actions)
            parts.append(
                f"SELECT agency_id, {_week_sql(dialect, 'at')} AS week, '{action}' AS action, COUNT(*) AS n "
                f"FROM audit_event WHERE agency_id IS NOT NULL AND success AND action IN ({names}){only} "
                "GROUP BY 1, 2"
            )
    found: dict[int, dict[date, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for agency, week, action, n in session.execute(text(" UNION ALL ".join(parts)), params):
        day = week if isinstance(week, date) else date.fromisoformat(str(week)[:10])
        found[int(agency)][day][str(action)] += int(n)
    return found


def _weeks_in(period: Period) -> list[date]:
    first = period.start + timedelta(days=(7 - period.start.weekday()) % 7)
    weeks = []
    while first.toordinal() + 6 <= period.end.toordinal():
        weeks.append(first)
        first += timedelta(days=7)
    return weeks


def usage(
    session: Session,
    periods: PeriodSet,
    compared: str | None = None,
    *,
    regular_share: float = 0.5,
    drop: float = 0.5,
    sources: str = "all",
    agency_id: int | None = None,
) -> UsageResult:
    """Each agency's use in the baseline (the first period) and in ``compared`` (default: the second)."""
    base_name = periods.names[0]
    compared = compared or periods.names[1]
    if compared not in periods.names or compared == base_name:
        raise ValueError(
            f"compare: {compared!r} is not a period other than the baseline ({', '.join(periods.names[1:])})"
        )
    every = [*periods.periods, *(p for own in periods.by_country.values() for p in own)]
    for period in every:
        # Each agency's use is counted week by week: a period of centuries would be millions.
        if (period.end - period.start).days > 7 * MAX_PERIODS:
            raise ValueError(
                f"period: {period.name} ({period.start} to {period.end}) spans more than "
                f"{MAX_PERIODS} weeks"
            )
    if not 0 < regular_share <= 1:
        raise ValueError("regular-share: expected a share above 0 and at most 1")
    if not 0 < drop <= 1:
        raise ValueError("drop: expected a share above 0 and at most 1")
    weekly = _weekly_use(session, sources, agency_id)
    names = {
        i: (n, c) for i, n, c in session.execute(select(Agency.id, Agency.name, Agency.country))
    }
    result = UsageResult(base_name, compared, regular_share, drop, [])
    for agency, weeks in sorted(weekly.items(), key=lambda item: names.get(item[0], ("", ""))[0]):
        name, country = names.get(agency, (f"agency {agency}", None))
        own = {p.name: p for p in periods.for_country(country)}
        base_weeks, period_weeks = _weeks_in(own[base_name]), _weeks_in(own[compared])
        usage_row = AgencyUsage(
            name,
            country,
            len(base_weeks),
            sum(1 for w in base_weeks if sum(weeks.get(w, {}).values())),
            len(period_weeks),
        )
        for target, chosen in ((usage_row.baseline, base_weeks), (usage_row.period, period_weeks)):
            for week in chosen:
                for action, n in weeks.get(week, {}).items():
                    target[action] = target.get(action, 0) + n
        usage_row.regular = bool(
            base_weeks
        ) and usage_row.active_baseline_weeks >= regular_share * len(base_weeks)
        before = usage_row.per_week(usage_row.baseline, usage_row.baseline_weeks)
        during = usage_row.per_week(usage_row.period, usage_row.period_weeks)
        if not period_weeks:
            usage_row.status = "no complete week"
        elif sum(usage_row.period.values()) == 0:
            usage_row.status = "stopped"
        elif before and during <= (1 - drop) * before:
            usage_row.status = "reduced"
        else:
            usage_row.status = "continued"
        result.agencies.append(usage_row)
    return result


def usage_event_total(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(UsageEvent)) or 0)
