"""The casework part of ``veille demo``: take-down notices, school incidents, the questionnaire.

Imports the scenario's ``takedowns.jsonl``, ``school-incidents.jsonl``,
``questionnaire.json`` and ``questionnaire-answers.jsonl`` with the same
functions as ``veille takedown import``, ``veille incidents import`` and
``veille survey define`` / ``import``, then prints the median removal time
before, during and after restrictions beside the planted truth, the
video-conference intrusions by year, and the questionnaire's leading answers.
"""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from typing import Any

from veille.casework.incidents import IncidentFilter, Period, count_incidents, import_incidents
from veille.casework.models import IncidentKind
from veille.casework.notices import NoticeRow, notice_rows
from veille.casework.survey import define_questionnaire, import_answers, survey_answers, tally
from veille.casework.survey_definition import load_definition
from veille.casework.takedown_import import import_notices
from veille.core.demo import DemoContext, DemoSection
from veille.store.agencies import list_agencies

ACTOR = "demo"


def _restrictions(truth: dict[str, Any]) -> dict[str, tuple[datetime, datetime]]:
    """Each country's restriction period in the scenario (start, end), from ``truth.json``."""
    periods = {}
    for country in truth.get("countries") or []:
        try:
            span = country["restrictions"]
            periods[str(country["code"])] = (
                datetime.fromisoformat(str(span["start"])).replace(tzinfo=UTC),
                datetime.fromisoformat(str(span["end"])).replace(tzinfo=UTC),
            )
        except (KeyError, TypeError, ValueError):
            continue
    return periods


def _phase(row: NoticeRow, countries: dict[str, str], periods: dict[str, Any]) -> str | None:
    """Before, during or after the restrictions of the provider's country."""
    span = periods.get(countries.get(row.provider, ""))
    if span is None or row.sent_at is None:
        return None
    start, end = span
    return "before" if row.sent_at < start else "during" if row.sent_at < end else "after"


def _median_hours(rows: list[NoticeRow]) -> str:
    hours = [h for h in (row.hours_to_removal() for row in rows) if h is not None]
    return f"{statistics.median(hours):.1f} h" if hours else "—"


def _takedown_lines(context: DemoContext, truth: dict[str, Any]) -> list[str]:
    path = context.scenario / "takedowns.jsonl"
    if not path.exists():
        return ["takedowns.jsonl: absent"]
    summary = import_notices(context.database, path, actor=ACTOR)
    with context.database.session() as session:
        rows = notice_rows(session)
    removed = sum(1 for row in rows if row.removed_at is not None)
    lines = [
        f"take-down notices: {summary.imported:,} imported ({summary.providers_added} providers); "
        f"{removed:,} of {len(rows):,} removed, median {_median_hours(rows)} to removal"
    ]
    planted = (truth.get("takedowns") or {}).get("median_hours") or {}
    periods = _restrictions(truth)
    if periods:
        with context.database.session() as session:
            countries = {agency.name: agency.country for agency in list_agencies(session)}
        phases: dict[str, list[NoticeRow]] = {"before": [], "during": [], "after": []}
        for row in rows:
            phase = _phase(row, countries, periods)
            if phase is not None:
                phases[phase].append(row)
        lines.append(
            "  median removal by the provider's restrictions: "
            + ", ".join(
                f"{phase} {_median_hours(found)} (planted {planted.get(phase, '—')} h)"
                for phase, found in phases.items()
            )
        )
    return lines


def _incident_lines(context: DemoContext) -> list[str]:
    path = context.scenario / "school-incidents.jsonl"
    if not path.exists():
        return ["school-incidents.jsonl: absent"]
    summary = import_incidents(context.database, path, actor=ACTOR)
    intrusions = IncidentFilter(kinds=[IncidentKind.VIDEO_CONFERENCE_INTRUSION])
    with context.database.session() as session:
        by_year: dict[str, int] = {}
        for row in count_incidents(session, intrusions, period=Period.YEAR):
            by_year[row["period"]] = by_year.get(row["period"], 0) + row["incidents"]
    return [
        f"school incidents: {summary.imported:,} imported; video-conference intrusions by year: "
        + (", ".join(f"{year} {count}" for year, count in sorted(by_year.items())) or "none")
    ]


def _survey_lines(context: DemoContext) -> list[str]:
    definition_path = context.scenario / "questionnaire.json"
    answers_path = context.scenario / "questionnaire-answers.jsonl"
    if not definition_path.exists() or not answers_path.exists():
        return []
    definition = load_definition(definition_path)
    with context.database.session() as session:
        define_questionnaire(session, definition, actor=ACTOR)
    recorded = import_answers(context.database, answers_path, actor=ACTOR).recorded
    with context.database.session() as session:
        stored, sets = survey_answers(session, definition.id)
    lines = [f"questionnaire {definition.id}: {recorded} answer sets"]
    for row in tally(stored, sets)[:3]:
        choices = {k: v for k, v in row.items() if k not in ("question", "answered")}
        if choices:
            leading = max(choices, key=lambda k: choices[k])
            lines.append(
                f"  {row['question']}: {leading} ({choices[leading]} of {row['answered']})"
            )
    return lines


def step_casework(context: DemoContext) -> DemoSection:
    """Import take-downs, school incidents and the questionnaire; summarise each."""
    truth_path = context.scenario / "truth.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8")) if truth_path.exists() else {}
    lines = [*_takedown_lines(context, truth), *_incident_lines(context), *_survey_lines(context)]
    return DemoSection("casework: take-downs, school incidents, questionnaire", lines)


DEMO_STEPS = (step_casework,)
