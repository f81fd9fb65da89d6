"""``veille trends``: report-count series, period comparisons, change points and alerts."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from veille.core.cli_options import (
    AllOption,
    AsOption,
    JsonOption,
    agency_viewer,
    parse_day,
    ready,
)
from veille.output import (
    console,
    counting_progress,
    error_console,
    fail,
    print_json,
    print_table,
)

trends_app = typer.Typer(
    help="Threat and trend analytics: series, comparisons, change points, alerts.",
    no_args_is_help=True,
)

CountryOption = Annotated[
    list[str] | None, typer.Option("--country", help="Only this country (ISO code; repeatable).")
]
CategoryOption = Annotated[
    list[str] | None,
    typer.Option("--category", help="Only this platform category (repeatable)."),
]
ChannelOption = Annotated[
    list[str] | None, typer.Option("--channel", help="Only this channel (repeatable).")
]
ReporterOption = Annotated[
    list[str] | None, typer.Option("--reporter", help="Only this reporter kind (repeatable).")
]
OffenceOption = Annotated[
    list[str] | None,
    typer.Option("--offence", help="Only reports of this offence type (repeatable)."),
]
FlagOption = Annotated[
    list[str] | None, typer.Option("--flag", help="Only reports with this flag (repeatable).")
]
SinceOption = Annotated[str | None, typer.Option("--since", help="First day counted (YYYY-MM-DD).")]
UntilOption = Annotated[str | None, typer.Option("--until", help="Last day counted (YYYY-MM-DD).")]
ByOption = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        help="Split into one series per value: country, category, channel, reporter, offence or flag (repeatable).",
    ),
]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")]
ChartOption = Annotated[
    Path | None, typer.Option("--chart", help="Also draw the result to this .png or .svg file.")
]


def _query(
    interval: str,
    country: list[str] | None,
    category: list[str] | None,
    channel: list[str] | None,
    reporter: list[str] | None,
    offence: list[str] | None,
    flag: list[str] | None,
    since: str | None,
    until: str | None,
    by: list[str] | None,
) -> Any:
    from veille.analytics.series import SeriesError, query_from_filters

    try:
        return query_from_filters(
            interval,
            country,
            category,
            channel,
            reporter,
            offence,
            flag,
            parse_day(since, "--since"),
            parse_day(until, "--until"),
            by,
        )
    except SeriesError as error:
        fail(f"--{error}", 2)


def _read_series(query: Any, as_agency: str | None, all_agencies: bool) -> Any:
    from veille.analytics.series import SeriesError, series
    from veille.store.audit import record_event

    database = ready()
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        try:
            result = series(session, query, viewer.agency_id)
        except SeriesError as error:
            fail(f"--{error}", 2)
        record_event(
            session,
            actor=viewer.actor,
            action="trends.read",
            object_type="series",
            agency_id=viewer.agency_id,
            detail=f"{query.describe()}; by {','.join(query.by) or 'nothing'}",
        )
    return result


def _print_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)


def _chart(draw: Any, *args: Any) -> None:
    from veille.analytics.charts import ChartError

    try:
        path = draw(*args)
    except ChartError as error:
        fail(str(error), 2)
    # On standard error, so that --json and --csv output stays machine-readable.
    error_console.print(f"chart written to {path}", style="dim", highlight=False)


@trends_app.command("series")
def trends_series(
    interval: Annotated[str, typer.Option("--interval", help="week or month.")] = "week",
    country: CountryOption = None,
    category: CategoryOption = None,
    channel: ChannelOption = None,
    reporter: ReporterOption = None,
    offence: OffenceOption = None,
    flag: FlagOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    by: ByOption = None,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    chart: ChartOption = None,
) -> None:
    """Reports per week or month, filtered, one series per value of --by."""
    query = _query(interval, country, category, channel, reporter, offence, flag, since, until, by)
    result = _read_series(query, as_agency, all_agencies)
    if chart is not None:
        from veille.analytics.charts import series_chart

        _chart(series_chart, result, chart)
    if as_json:
        print_json(result.as_dict())
        return
    columns = [*query.by, "period", "count"]
    if as_csv:
        _print_csv(result.rows(), columns)
        return
    print_table(
        f"Reports per {interval}: {query.describe()} (marking {result.marking})",
        result.rows(),
        columns,
    )


@trends_app.command("content")
def trends_content(
    interval: Annotated[str, typer.Option("--interval", help="week or month.")] = "week",
    country: CountryOption = None,
    category: CategoryOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    chart: ChartOption = None,
) -> None:
    """Raw volume beside unique content, new content and the viral share, per week or month."""
    from veille.analytics.content import content_series
    from veille.analytics.series import SeriesError

    query = _query(interval, country, category, None, None, None, None, since, until, None)
    database = ready()
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        try:
            result = content_series(session, query, viewer.agency_id)
        except SeriesError as error:
            fail(f"--{error}", 2)
    if chart is not None:
        from veille.analytics.charts import content_chart

        _chart(content_chart, result, chart)
    if as_json:
        print_json(result.as_dict())
        return
    columns = [
        "period",
        "reports",
        "reports_with_media",
        "unique_content",
        "new_content",
        "viral_share",
    ]
    if as_csv:
        _print_csv(result.rows, columns)
        return
    short = {
        "reports_with_media": "with media",
        "unique_content": "unique",
        "new_content": "new",
        "viral_share": "viral",
    }
    print_table(
        f"Reports and content per {interval}: {query.describe()} (marking {result.marking})",
        [{short.get(k, k): v for k, v in row.items()} for row in result.rows],
        [short.get(c, c) for c in columns],
    )
    if result.note:
        console.print(f"note: {result.note}", style="dim", highlight=False)


def _periods(period: list[str] | None, periods_file: Path | None) -> Any:
    from veille.analytics.periods import PeriodError, load_periods, parse_period, period_set

    try:
        if periods_file is not None:
            if period:
                fail("--period and --periods-file: give one or the other", 2)
            return load_periods(periods_file)
        return period_set([parse_period(p) for p in period or ()])
    except PeriodError as error:
        fail(str(error), 2)


PeriodOption = Annotated[
    list[str] | None,
    typer.Option(
        "--period",
        help="A named period NAME=YYYY-MM-DD..YYYY-MM-DD (repeatable; the first is the baseline).",
    ),
]
PeriodsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--periods-file", help="A YAML or JSON file of periods, per country where they differ."
    ),
]


@trends_app.command("compare")
def trends_compare(
    period: PeriodOption = None,
    periods_file: PeriodsFileOption = None,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="The period compared with (default: the first)."),
    ] = None,
    country: CountryOption = None,
    category: CategoryOption = None,
    channel: ChannelOption = None,
    reporter: ReporterOption = None,
    offence: OffenceOption = None,
    flag: FlagOption = None,
    by: ByOption = None,
    trend: Annotated[
        bool,
        typer.Option(
            "--trend",
            help="Fit the baseline's growth per year and carry it forward; each period has its own slope.",
        ),
    ] = False,
    pooled: Annotated[
        bool,
        typer.Option(
            "--pooled",
            help="Fit the countries together, each over its own dates (implies --by country).",
        ),
    ] = False,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    chart: ChartOption = None,
) -> None:
    """Rate ratios of named periods against the baseline, with 95 % intervals."""
    from veille.analytics.compare import compare

    periods = _periods(period, periods_file)
    split = list(by or ())
    if pooled and "country" not in split:
        split.append("country")
    first, last = periods.span
    query = _query(
        "week", country, category, channel, reporter, offence, flag, str(first), str(last), split
    )
    result = _read_series(query, as_agency, all_agencies)
    try:
        compared = compare(result, periods, baseline, trend=trend, pooled=pooled)
    except ValueError as error:
        fail(f"--{error}", 2)
    if chart is not None:
        from veille.analytics.charts import comparison_chart

        _chart(comparison_chart, compared, chart)
    if as_json:
        print_json(compared.as_dict())
        return
    rows = compared.as_dict()["comparisons"]
    columns = [
        *compared.by,
        "period",
        "weeks",
        "mean_per_week",
        "baseline_mean_per_week",
        "rate_ratio",
        "ci_low",
        "ci_high",
        "q_value",
        "verdict",
    ]
    if as_csv:
        _print_csv(rows, [*columns, "p_value", "dispersion", "note"])
        return
    print_table(
        f"Weekly rate against {compared.baseline}: {query.describe()} (marking {compared.marking})",
        rows,
        columns,
    )
    notes = sorted({r["note"] for r in rows if r["note"]})
    for note in notes:
        console.print(f"note: {note}", style="dim", highlight=False)


@trends_app.command("gap")
def trends_gap(
    period: PeriodOption = None,
    periods_file: PeriodsFileOption = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline", help="The period that sets what is expected (default: the first)."
        ),
    ] = None,
    trend: Annotated[
        bool,
        typer.Option("--trend", help="Fit the baseline's growth per year and carry it forward."),
    ] = False,
    pooled: Annotated[
        bool,
        typer.Option(
            "--pooled",
            help="Fit the countries together, each over its own dates, and add them up (implies --by country).",
        ),
    ] = False,
    country: CountryOption = None,
    category: CategoryOption = None,
    channel: ChannelOption = None,
    reporter: ReporterOption = None,
    offence: OffenceOption = None,
    flag: FlagOption = None,
    by: ByOption = None,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    chart: ChartOption = None,
) -> None:
    """Reports expected from the baseline against reports observed, per period, with 95 % intervals."""
    from veille.analytics.gap import reporting_gap

    periods = _periods(period, periods_file)
    split = list(by or ())
    if pooled and "country" not in split:
        split.append("country")
    first, last = periods.span
    query = _query(
        "week", country, category, channel, reporter, offence, flag, str(first), str(last), split
    )
    result = _read_series(query, as_agency, all_agencies)
    try:
        gaps = reporting_gap(result, periods, baseline, trend, pooled=pooled)
    except ValueError as error:
        fail(f"--{error}", 2)
    if chart is not None:
        from veille.analytics.charts import gap_chart

        _chart(gap_chart, gaps, chart)
    if as_json:
        print_json(gaps.as_dict())
        return
    rows = gaps.as_dict()["gaps"]
    columns = [*query.by, "period", "weeks", "observed", "expected", "gap", "gap_low", "gap_high"]
    if as_csv:
        _print_csv(rows, [*columns, "note"])
        return
    print_table(
        f"Reports against what {gaps.baseline} predicts: {query.describe()} (marking {gaps.marking})",
        rows,
        columns,
    )
    for note in sorted({r["note"] for r in rows if r["note"]}):
        console.print(f"note: {note}", style="dim", highlight=False)


@trends_app.command("import-usage")
def trends_import_usage(
    file: Annotated[
        Path, typer.Argument(help="JSON Lines: event_id, agency, user, action, items, at.")
    ],
    source: Annotated[
        str | None,
        typer.Option("--source", help="Where the events come from (default: the file's name)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import database-usage events (log-ins, queries, uploads); all lines or none."""
    from veille.analytics.usage import UsageImportError, import_usage, read_lines

    if not file.is_file():
        fail(f"FILE: {file} is not a file", 2)
    try:
        summary = import_usage(ready(), read_lines(file), source or file.name)
    except UsageImportError as error:
        fail(f"{file.name}: nothing imported:\n{error}", 1)
    except UnicodeDecodeError as error:
        fail(f"{file.name}: not UTF-8 text (byte {error.start}); nothing imported", 1)
    if as_json:
        print_json(summary.as_dict())
        return
    console.print(
        f"usage events: {summary.imported} imported, {summary.already_present} already present",
        highlight=False,
    )


@trends_app.command("usage")
def trends_usage(
    period: PeriodOption = None,
    periods_file: PeriodsFileOption = None,
    compared: Annotated[
        str | None,
        typer.Option(
            "--compare", help="The period compared with the baseline (default: the second)."
        ),
    ] = None,
    regular_share: Annotated[
        float,
        typer.Option(
            "--regular-share",
            help="A regular user used the database in at least this share of the baseline's weeks.",
        ),
    ] = 0.5,
    drop: Annotated[
        float,
        typer.Option("--drop", help="Use that fell by at least this share counts as reduced."),
    ] = 0.5,
    sources: Annotated[
        str,
        typer.Option("--sources", help="all, imported (usage events) or audit (Veille's own log)."),
    ] = "all",
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    chart: ChartOption = None,
) -> None:
    """Database use per agency: the share of regular users that stopped or reduced their use."""
    from veille.analytics.usage import usage

    periods = _periods(period, periods_file)
    if sources not in ("all", "imported", "audit"):
        fail(f"--sources: {sources!r} is not one of all, imported, audit", 2)
    database = ready()
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        try:
            result = usage(
                session,
                periods,
                compared,
                regular_share=regular_share,
                drop=drop,
                sources=sources,
                agency_id=viewer.agency_id,
            )
        except ValueError as error:
            fail(f"--{error}", 2)
    data = result.as_dict()
    if chart is not None:
        from veille.analytics.charts import usage_chart

        _chart(usage_chart, data, chart)
    if as_json:
        print_json(data)
        return
    columns = [
        "agency",
        "regular",
        "active_baseline_weeks",
        "baseline_per_week",
        "period_per_week",
        "ratio",
        "status",
    ]
    if as_csv:
        _print_csv(data["agencies"], list(data["agencies"][0]) if data["agencies"] else columns)
        return
    print_table(
        f"Database use: {result.period} against {result.baseline}", data["agencies"], columns
    )
    share = data["share_stopped_or_reduced"]
    console.print(
        f"{data['stopped_or_reduced']} of {data['regular_users']} regular users stopped "
        f"({data['stopped']}) or reduced by at least {drop:.0%} ({data['reduced']})"
        + (f": {share:.0%}" if share is not None else ""),
        highlight=False,
    )


@trends_app.command("import-published")
def trends_import_published(
    file: Annotated[
        Path, typer.Argument(help="CSV: source, country, period_start, period_end, measure, count.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Import counts others publish (kept apart from Veille's own); all rows or none."""
    from veille.analytics.published import MAX_BYTES, PublishedImportError, import_published

    if not file.is_file():
        fail(f"FILE: {file} is not a file", 2)
    try:
        with file.open("rb") as stream:
            # At most one byte over the limit is read: a larger file is refused unread.
            summary = import_published(ready(), stream.read(MAX_BYTES + 1))
    except PublishedImportError as error:
        fail(f"{file.name}: nothing imported:\n{error}", 1)
    if as_json:
        print_json(summary.as_dict())
        return
    console.print(
        f"published counts: {summary.imported} imported, {summary.updated} updated "
        f"of {summary.rows} rows",
        highlight=False,
    )


@trends_app.command("published")
def trends_published(
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    measure: Annotated[str | None, typer.Option("--measure", help="Only this measure.")] = None,
    country: CountryOption = None,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Published counts beside the reports Veille holds for the same country and days."""
    from veille.analytics.published import published_beside_own

    database = ready()
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        rows = published_beside_own(
            session, viewer.agency_id, source, measure, tuple(c.upper() for c in country or ())
        )
    if as_json:
        print_json(rows)
        return
    columns = [
        "source",
        "measure",
        "country",
        "period_start",
        "period_end",
        "published",
        "veille_reports",
        "ratio",
    ]
    if as_csv:
        _print_csv(rows, columns)
        return
    print_table("Published counts beside Veille's reports", rows, columns)


@trends_app.command("providers")
def trends_providers(
    period: PeriodOption = None,
    periods_file: PeriodsFileOption = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Only this provider.")] = None,
    overdue_days: Annotated[
        float,
        typer.Option("--overdue-days", min=0.01, help="A notice open longer than this is overdue."),
    ] = 7.0,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    chart: ChartOption = None,
) -> None:
    """Take-down response per provider and period: time to removal, shares removed, overdue."""
    from veille.analytics.providers import provider_statistics

    periods = _periods(period, periods_file)
    database = ready()
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        rows = provider_statistics(session, viewer, periods, provider, overdue_days)
    if chart is not None:
        from veille.analytics.charts import providers_chart

        _chart(providers_chart, rows, chart)
    if as_json:
        print_json(rows)
        return
    columns = [
        "provider",
        "period",
        "notices",
        "removed",
        "overdue",
        "median_hours",
        "p90_hours",
        "median_hours_with_open",
        "removed_within_24h",
        "removed_within_7d",
    ]
    if as_csv:
        _print_csv(rows, [*columns, "open"])
        return
    short = {
        "median_hours": "median h",
        "p90_hours": "p90 h",
        "median_hours_with_open": "median h (open counted)",
        "removed_within_24h": "≤ 24 h",
        "removed_within_7d": "≤ 7 days",
    }
    print_table(
        "Take-down response per provider and period",
        [{short.get(k, k): v for k, v in row.items()} for row in rows],
        [short.get(c, c) for c in columns],
    )


@trends_app.command("survey")
def trends_survey(
    questionnaire: Annotated[str, typer.Argument(help="The questionnaire's id.")],
    regions: Annotated[
        Path | None,
        typer.Option("--regions", help="A YAML file of country code: region, to count per region."),
    ] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    chart: ChartOption = None,
) -> None:
    """Questionnaire answers as "N of M countries report an increase in ...", per question and region."""
    from veille.analytics.survey import SurveyError, load_regions, survey_summary

    database = ready()
    try:
        mapping = load_regions(regions) if regions else None
        with database.session() as session:
            summary = survey_summary(session, questionnaire, mapping)
    except SurveyError as error:
        fail(str(error), 2 if "regions" in str(error) else 1)
    if chart is not None:
        from veille.analytics.charts import survey_chart

        _chart(survey_chart, summary, chart)
    if as_json:
        print_json(summary)
        return
    rows = summary["rows"]
    if as_csv:
        _print_csv(rows, list(rows[0]) if rows else ["question"])
        return
    console.print(
        f"{summary['title']}: {summary['responses']} responses from {summary['countries']} countries",
        highlight=False,
    )
    for row in rows:
        if "sentence" in row and (row["region"] == "all regions" or regions):
            console.print(f"- {row['sentence']}", highlight=False)


@trends_app.command("changes")
def trends_changes(
    country: CountryOption = None,
    category: CategoryOption = None,
    channel: ChannelOption = None,
    reporter: ReporterOption = None,
    offence: OffenceOption = None,
    flag: FlagOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    by: ByOption = None,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    chart: ChartOption = None,
) -> None:
    """Weeks where a series' level changed (change points), per series."""
    from veille.analytics.changes import series_changes

    query = _query("week", country, category, channel, reporter, offence, flag, since, until, by)
    result = _read_series(query, as_agency, all_agencies)
    found = series_changes(result)
    if chart is not None:
        from veille.analytics.charts import changes_chart

        _chart(changes_chart, result, found, chart)
    rows = []
    for one in found:
        key = dict(zip(query.by, one.key, strict=True))
        if not one.points:
            rows.append({**key, "week": None, "note": one.note or "no change point"})
        for point in one.points:
            rows.append({**key, **point.as_dict(), "note": ""})
    if as_json:
        print_json({"filter": query.describe(), "marking": result.marking, "changes": rows})
        return
    columns = [*query.by, "week", "mean_before", "mean_after", "ratio", "note"]
    if as_csv:
        _print_csv(rows, columns)
        return
    print_table(f"Change points: {query.describe()} (marking {result.marking})", rows, columns)


@trends_app.command("check")
def trends_check(
    week: Annotated[
        str | None,
        typer.Option(
            "--week", help="A day of the week to check (default: the last complete week)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check one week of every scanned series against its expected band; store alerts."""
    from veille.analytics.alerts import alert_dict, run_check

    summary = run_check(ready(), parse_day(week, "--week"))
    if as_json:
        print_json(summary.as_dict())
        return
    console.print(
        f"week of {summary.week}: {summary.series_checked} series checked, "
        f"{len(summary.alerts)} new alerts",
        highlight=False,
    )
    if summary.alerts:
        print_table("New alerts", [alert_dict(a) for a in summary.alerts], _ALERT_COLUMNS)


_ALERT_COLUMNS = [
    "id",
    "series",
    "week",
    "direction",
    "observed",
    "expected",
    "band_low",
    "band_high",
    "marking",
]


@trends_app.command("alerts")
def trends_alerts(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10000, help="At most this many.")
    ] = 100,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
) -> None:
    """Emerging-threat alerts, newest first (an agency sees the clear ones)."""
    from veille.analytics.alerts import alert_dict, list_alerts

    database = ready()
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        rows = [alert_dict(a) for a in list_alerts(session, viewer.agency_id, limit)]
    if as_json:
        print_json(rows)
        return
    print_table("Emerging-threat alerts", rows, _ALERT_COLUMNS)


@trends_app.command("rebuild")
def trends_rebuild(as_json: JsonOption = False) -> None:
    """Count every stored report into the rollups again (after an upgrade or a repair)."""
    from veille.analytics.rollup import rebuild, stored_report_total

    database = ready()
    with counting_progress("counting reports", stored_report_total(database)) as on_progress:
        summary = rebuild(database, on_progress)
    if as_json:
        print_json(summary.as_dict())
        return
    console.print(f"{summary.reports} reports counted in {summary.seconds:.1f} s", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``veille trends`` to the CLI."""
    app.add_typer(trends_app, name="trends")
