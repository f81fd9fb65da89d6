"""Keeping the report-count rollups up to date, exactly once per report.

Each run takes the reports not counted yet, in chunks: in one transaction it
marks them counted (``analytics_rolled_report``) and adds them to
``analytics_report_count`` with an upsert whose counts are grouped in SQL.
A run that fails leaves neither the marks nor the counts, and a report
already marked is never counted again, so the step may run any number of
times. ``rebuild`` empties both tables and counts every report again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.orm import Session

from veille.analytics.models import UNKNOWN_COUNTRY, ReportCount, RolledReport
from veille.store.db import Database
from veille.store.models import Report

CHUNK_SIZE = 10000
"""Reports counted per transaction."""

_PERIODS = {
    # grain -> (PostgreSQL, SQLite) expression of the period's first day
    "w": (
        "CAST(date_trunc('week', r.received_at AT TIME ZONE 'UTC') AS DATE)",
        "date(r.received_at, '-6 days', 'weekday 1')",
    ),
    "m": (
        "CAST(date_trunc('month', r.received_at AT TIME ZONE 'UTC') AS DATE)",
        "date(r.received_at, 'start of month')",
    ),
}

_IDS = {
    # The chunk's ids as rows, from one parameter whatever their number: an
    # array on PostgreSQL, a JSON array on SQLite (an IN list would be one
    # parameter per id, expanded and parsed again at every statement).
    "postgresql": "SELECT unnest(CAST(:ids AS BIGINT[]))",
    "sqlite": "SELECT value FROM json_each(:ids)",
}

_KEY = "grain, period, country, category, channel, reporter, label_kind, label, owner_agency_id, marking"
_GROUP = "country, category, channel, reporter, label_kind, label, owner_agency_id, marking"


def _upsert(dialect: str) -> str:
    """One statement that counts a chunk into both grains and every label kind.

    Each report of the chunk is read once (``base``); it counts once under
    ``all``, once per offence type and once per flag, in each grain.
    """
    engine = 0 if dialect == "postgresql" else 1
    week, month = _PERIODS["w"][engine], _PERIODS["m"][engine]
    by_grain = " UNION ALL ".join(
        f"SELECT '{grain}', {period}, {_GROUP}, COUNT(*) FROM labelled GROUP BY {period}, {_GROUP}"
        for grain, period in (("w", "week"), ("m", "month"))
    )
    return f"""
        WITH chunk(id) AS ({_IDS[dialect]}),
        base AS MATERIALIZED (
            SELECT r.id, {week} AS week, {month} AS month,
                   COALESCE(r.derived_country, r.stated_country, '{UNKNOWN_COUNTRY}') AS country,
                   r.platform_category AS category, r.channel, r.reporter_kind AS reporter,
                   r.owner_agency_id, r.marking
            FROM report r WHERE r.id IN (SELECT id FROM chunk)
        ),
        labelled AS (
            SELECT b.*, 'all' AS label_kind, '' AS label FROM base b
            UNION ALL
            SELECT b.*, 'offence', o.offence_type FROM base b
                JOIN report_offence o ON o.report_id = b.id
            UNION ALL
            SELECT b.*, 'flag', f.flag FROM base b JOIN report_flag f ON f.report_id = b.id
        )
        INSERT INTO analytics_report_count ({_KEY}, count)
        SELECT * FROM ({by_grain}) AS counted WHERE true
        ON CONFLICT ({_KEY}) DO UPDATE SET count = analytics_report_count.count + excluded.count
    """


@dataclass
class RollupSummary:
    """What one run counted."""

    reports: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"reports": self.reports, "seconds": round(self.seconds, 3)}


def uncounted_report_ids(
    session: Session, limit: int | None = None, after: int | None = None
) -> list[int]:
    """Reports not yet in the rollups, in id order (only ids above ``after`` when given)."""
    counted = exists(select(RolledReport.report_id).where(RolledReport.report_id == Report.id))
    query = select(Report.id).where(~counted).order_by(Report.id)
    if after is not None:
        query = query.where(Report.id > after)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_reports(session: Session, report_ids: Sequence[int]) -> None:
    """Add ``report_ids`` to the rollups and mark them counted, in ``session``'s transaction."""
    if not report_ids:
        return
    ids = sorted(set(report_ids))
    dialect = session.get_bind().dialect.name
    values: object = ids if dialect == "postgresql" else json.dumps(ids)
    session.execute(
        text(f"INSERT INTO analytics_rolled_report (report_id) {_IDS[dialect]}"), {"ids": values}
    )
    session.execute(text(_upsert(dialect)), {"ids": values})


def roll_up(database: Database, on_progress: Callable[[int], None] | None = None) -> RollupSummary:
    """Count every report not counted yet; one transaction per chunk.

    Each chunk looks only above the last id of the one before, so a run reads
    the report table once rather than once per chunk. A report whose id is
    below that mark but whose transaction committed later is left for the
    next run, which starts from the first id again.
    """
    started = time.perf_counter()
    summary = RollupSummary()
    after: int | None = None
    while True:
        with database.session() as session:
            ids = uncounted_report_ids(session, CHUNK_SIZE, after)
            if not ids:
                break
            count_reports(session, ids)
        after = ids[-1]
        summary.reports += len(ids)
        if on_progress is not None:
            on_progress(len(ids))
    summary.seconds = time.perf_counter() - started
    return summary


def rebuild(database: Database, on_progress: Callable[[int], None] | None = None) -> RollupSummary:
    """Empty the rollups and count every stored report again."""
    with database.session() as session:
        session.execute(delete(ReportCount))
        session.execute(delete(RolledReport))
    return roll_up(database, on_progress)


def stored_report_total(database: Database) -> int:
    """How many reports are stored (for the rebuild's progress bar)."""
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Report)) or 0)
