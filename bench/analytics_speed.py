"""How fast the trend analytics answer, and what keeping the rollups costs.

Generates a scenario of ``--reports`` reports (or reuses ``--scenario``),
imports it into a fresh database (SQLite file or a PostgreSQL schema), then
times:

- the rollup upkeep: counting every imported report into the rollups, beside
  storing the reports alone and beside the whole import command without it
  (store, match, link, score: what ``veille import`` does before counting),
  and the cost per report of counting small batches (as the flow's
  ``rollup`` step does for reports arriving through the API);
- one filtered series from the rollups (country × category), median of 20;
- the full analytics: every ``veille trends`` question once (series by
  category, content, compare pooled by category, the gap for domestic abuse
  with countries pooled and a trend, change points by category, the weekly
  check, usage, take-down times per provider and the questionnaire counts,
  each beside the import of its records where it has one).

Usage::

    python bench/analytics_speed.py --reports 200000
    python bench/analytics_speed.py --reports 200000 --database postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/analytics_speed.py --scenario /tmp/aeval-large/scenario-1 \
        --existing sqlite:////tmp/aeval-large/analytics-1.db   # questions only, 2M reports

``--existing URL`` times the questions on a database that already holds the
scenario's reports, counted into the rollups (``analytics_eval.py`` leaves
one in its work folder): a 2M-report import is then not repeated, and the
upkeep table is left out (the evaluation's time table gives import and
rollup seconds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, delete, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine_description, markdown_table, write_result
from veille.analytics.alerts import run_check
from veille.analytics.changes import series_changes
from veille.analytics.compare import compare
from veille.analytics.content import content_series
from veille.analytics.gap import reporting_gap
from veille.analytics.models import ReportCount, RolledReport
from veille.analytics.periods import Period, PeriodSet
from veille.analytics.providers import provider_statistics
from veille.analytics.rollup import count_reports, roll_up
from veille.analytics.series import SeriesQuery, series
from veille.analytics.survey import survey_summary
from veille.analytics.usage import import_usage, read_lines, usage
from veille.casework.survey import define_questionnaire, import_answers
from veille.casework.survey_definition import load_definition
from veille.casework.takedown_import import import_notices
from veille.flow import flow_steps
from veille.intake.importer import import_reports
from veille.media import match_reports
from veille.store import migrate
from veille.store.agencies import ensure_agencies, load_agency_specs
from veille.store.db import Database, create_veille_engine
from veille.store.models import Report
from veille.store.reports import Viewer


def open_database(url: str | None, workdir: Path) -> tuple[Database, str, str | None]:
    if url is None:
        path = workdir / f"speed-{uuid.uuid4().hex[:8]}.db"
        database = Database(create_veille_engine(f"sqlite:///{path}"))
        migrate.upgrade(database)
        return database, "SQLite", None
    schema = f"bench_analytics_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    database = Database(create_veille_engine(f"{url}?options=-csearch_path%3D{schema}"))
    migrate.upgrade(database)
    return database, "PostgreSQL", schema


def periods_of(truth: dict) -> PeriodSet:  # type: ignore[type-arg]
    first = date.fromisoformat(truth["scenario"]["from"])
    last = date.fromisoformat(truth["scenario"]["to"])
    starts = [date.fromisoformat(c["restrictions"]["start"]) for c in truth["countries"]]
    ends = [date.fromisoformat(c["restrictions"]["end"]) for c in truth["countries"]]
    own = {
        c["code"]: (
            Period(
                "restrictions",
                date.fromisoformat(c["restrictions"]["start"]),
                date.fromisoformat(c["restrictions"]["end"]) - timedelta(days=1),
            ),
        )
        for c in truth["countries"]
    }
    return PeriodSet(
        (
            Period("baseline", first, min(starts) - timedelta(days=1)),
            Period("restrictions", min(starts), max(ends)),
            Period("after", max(ends) + timedelta(days=1), last),
        ),
        own,
    )


def timed(work) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def measure_upkeep(database: Database, folder: Path) -> list[object]:
    """Import the scenario as ``veille import`` does, timing each part, rollup included.

    The import command stores the reports, matches their media, links and
    scores them, then counts them into the rollups: the rollup's cost is
    given beside the storing alone and beside the whole command without it.
    Then the cost per report of counting small batches, as the flow does for
    reports arriving one by one.
    """
    with database.session() as session:
        ensure_agencies(session, load_agency_specs(folder / "agencies.jsonl"))
    store_seconds, summary = timed(lambda: import_reports(database, folder / "reports.jsonl"))
    ids = sorted(summary.new_report_ids)  # type: ignore[attr-defined]
    steps = flow_steps()
    match_seconds, _ = timed(lambda: match_reports(database, ids))
    link_seconds, _ = timed(lambda: steps["link"].run(database, ids, trigger="match"))
    score_seconds, _ = timed(lambda: steps["score"].run(database, ids, trigger="match"))
    rollup_seconds, _ = timed(lambda: steps["rollup"].run(database, ids, trigger="match"))
    without = store_seconds + match_seconds + link_seconds + score_seconds
    # Small batches, as the flow counts reports arriving one by one: the last 2,000 are
    # counted again, 10 at a time (only the time matters; the counts are rebuilt after).
    with database.session() as session:
        last_ids = list(session.scalars(select(Report.id).order_by(Report.id.desc()).limit(2000)))
        session.execute(delete(RolledReport).where(RolledReport.report_id.in_(last_ids)))
    batch_started = time.perf_counter()
    for start in range(0, len(last_ids), 10):
        with database.session() as session:
            count_reports(session, last_ids[start : start + 10])
    batch_ms = (time.perf_counter() - batch_started) * 1000 / max(len(last_ids), 1)
    with database.session() as session:
        session.execute(delete(ReportCount))
        session.execute(delete(RolledReport))
    roll_up(database)
    engine_name = "SQLite" if database.dialect == "sqlite" else "PostgreSQL"
    return [
        engine_name,
        summary.imported,  # type: ignore[attr-defined]
        f"{store_seconds:.1f}",
        f"{match_seconds + link_seconds + score_seconds:.1f}",
        f"{rollup_seconds:.1f}",
        f"{rollup_seconds / store_seconds:.1%}",
        f"{rollup_seconds / without:.1%}",
        f"{batch_ms:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument(
        "--database", default=None, help="A PostgreSQL URL (default: a SQLite file)."
    )
    parser.add_argument(
        "--existing",
        default=None,
        help="A database URL that already holds the scenario, rolled up: time the questions only.",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="veille-analytics-speed-") as temporary:
        workdir = Path(temporary)
        folder = args.scenario or workdir / "scenario"
        if not (folder / "truth.json").exists():
            from veille.synth.generator import SynthOptions, generate_scenario

            generate_scenario(
                SynthOptions(
                    out=folder, seed=args.seed, size="small", reports=args.reports, images=0
                )
            )
        truth = json.loads((folder / "truth.json").read_text())
        if args.existing:
            database = Database(create_veille_engine(args.existing))
            engine_name = "SQLite" if database.dialect == "sqlite" else "PostgreSQL"
            schema = None
            with database.session() as session:
                reports = int(session.scalar(select(func.count()).select_from(Report)) or 0)
            upkeep_row = None
        else:
            database, engine_name, schema = open_database(args.database, workdir)
            upkeep_row = measure_upkeep(database, folder)
            reports = int(str(upkeep_row[1]))
        periods = periods_of(truth)
        first, last = periods.span
        query = SeriesQuery(countries=("FR",), categories=("p2p",))
        one_series = []
        for _ in range(20):
            with database.session() as session:
                seconds, _result = timed(lambda session=session: series(session, query, None))
            one_series.append(seconds * 1000)
        steps: list[list[object]] = []

        def step(name: str, work) -> None:  # type: ignore[no-untyped-def]
            seconds, _ = timed(work)
            steps.append([name, f"{seconds:.2f}"])

        def with_session(work):  # type: ignore[no-untyped-def]
            def run():  # type: ignore[no-untyped-def]
                with database.session() as session:
                    return work(session)

            return run

        step(
            "series by category",
            with_session(lambda s: series(s, SeriesQuery(by=("category",)), None)),
        )
        step("content per week", with_session(lambda s: content_series(s, SeriesQuery(), None)))
        step(
            "compare, pooled over countries, by category",
            with_session(
                lambda s: compare(
                    series(
                        s, SeriesQuery(since=first, until=last, by=("category", "country")), None
                    ),
                    periods,
                    pooled=True,
                )
            ),
        )
        step(
            "gap, domestic abuse, countries pooled, with trend",
            with_session(
                lambda s: reporting_gap(
                    series(
                        s,
                        SeriesQuery(
                            since=first, until=last, offences=("domestic_abuse",), by=("country",)
                        ),
                        None,
                    ),
                    periods,
                    trend=True,
                    pooled=True,
                )
            ),
        )
        step(
            "change points by category",
            with_session(lambda s: series_changes(series(s, SeriesQuery(by=("category",)), None))),
        )
        step(
            "weekly check (every scanned series)",
            lambda: run_check(
                database, date.fromisoformat(truth["scenario"]["to"]) - timedelta(days=7)
            ),
        )
        step(
            "usage import",
            lambda: import_usage(database, read_lines(folder / "usage-events.jsonl"), "scenario"),
        )
        step("usage", with_session(lambda s: usage(s, periods, "restrictions")))
        step(
            "take-down notices import",
            lambda: import_notices(database, folder / "takedowns.jsonl", actor="bench"),
        )
        step(
            "providers (take-down times)",
            with_session(lambda s: provider_statistics(s, Viewer("bench", None), periods)),
        )
        definition = load_definition(folder / "questionnaire.json")

        def survey_import() -> None:
            with database.session() as session:
                define_questionnaire(session, definition, actor="bench")
            import_answers(database, folder / "questionnaire-answers.jsonl", actor="bench")

        step("questionnaire import", survey_import)
        step("survey", with_session(lambda s: survey_summary(s, definition.id)))
        # Imports bring in the records some questions read (casework's notices and
        # answers, usage events): timed beside the questions, not counted among them.
        questions = [row for row in steps if not str(row[0]).endswith(" import")]
        imports = [row for row in steps if str(row[0]).endswith(" import")]
        total = sum(float(row[1]) for row in questions)
        database.dispose()
        if schema and args.database:
            engine = create_engine(args.database)
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
    command = "python bench/analytics_speed.py " + " ".join(sys.argv[1:])
    upkeep = (
        markdown_table(
            [
                "engine",
                "reports",
                "store s",
                "match, link, score s",
                "rollup s",
                "rollup / store",
                "rollup / import command without it",
                "rollup per report in batches of 10 (ms)",
            ],
            [upkeep_row],
        )
        if upkeep_row is not None
        else f"{reports:,} reports already imported and counted (`--existing`): questions only."
    )
    queries = markdown_table(
        ["question", "seconds"],
        [
            *questions,
            ["**every question**", f"**{total:.2f}**"],
            [
                "one filtered series (FR × p2p), median of 20, ms",
                f"{statistics.median(one_series):.1f}",
            ],
        ],
    )
    loaded = markdown_table(
        ["import (records some questions read; not a question)", "seconds"], imports
    )
    body = (
        f"Run: `{command}` ({engine_name}).\n\n{upkeep}\n\n{queries}\n\n{loaded}\n\n"
        + machine_description(("sqlalchemy", "statsmodels", "ruptures"))
    )
    print(body)
    if not args.no_write:
        name = "analytics_speed" if engine_name == "SQLite" else "analytics_speed_postgresql"
        if args.existing:
            name += "_existing"
        write_result(name, f"Trend analytics speed ({engine_name})", body)


if __name__ == "__main__":
    main()
