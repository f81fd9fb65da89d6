"""Analytics' part of ``veille demo``: the headline trends of the scenario, with charts.

The demo writes a periods file from the scenario's restriction dates (each
country's, as a government would publish them; the effects planted in
``truth.json`` are not read), compares the restrictions and the months after
with the year before, per platform category, finds change points in the
peer-to-peer series, runs the weekly check on the scenario's last week,
imports the scenario's database-usage events and recomputes the share of
regular users that stopped or reduced their use, and draws the charts into
``<demo folder>/charts``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from veille.core.demo import DemoContext, DemoSection


def _periods_file(context: DemoContext) -> tuple[str, date]:
    truth = json.loads((context.scenario / "truth.json").read_text(encoding="utf-8"))
    countries = truth["countries"]
    starts = sorted(date.fromisoformat(c["restrictions"]["start"]) for c in countries)
    ends = sorted(date.fromisoformat(c["restrictions"]["end"]) for c in countries)
    last_day = date.fromisoformat(truth["scenario"]["to"])
    first_day = date.fromisoformat(truth["scenario"]["from"])
    lines = [
        "# Written by veille demo from the scenario's restriction dates (no planted effect).",
        "periods:",
        f"  baseline: [{first_day}, {starts[0] - timedelta(days=1)}]",
        f"  restrictions: [{starts[len(starts) // 2]}, {ends[len(ends) // 2]}]",
        f"  after: [{ends[-1] + timedelta(days=1)}, {last_day}]",
        "countries:",
    ]
    for country in countries:
        own = country["restrictions"]
        lines.append(f"  {country['code']}: {{restrictions: [{own['start']}, {own['end']}]}}")
    path = context.folder / "periods.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path), last_day


def step_trends(context: DemoContext) -> DemoSection:
    """Rate ratios per category, change points and the weekly check, with charts."""
    from veille.analytics.alerts import run_check
    from veille.analytics.changes import series_changes
    from veille.analytics.charts import changes_chart, comparison_chart, series_chart
    from veille.analytics.compare import compare
    from veille.analytics.periods import load_periods
    from veille.analytics.series import SeriesQuery, series

    from veille.analytics.rollup import roll_up

    # The demo links and scores in its own steps, not through the flow: count here
    # what the flow's rollup step would have counted as the reports arrived.
    roll_up(context.database)
    periods_path, last_day = _periods_file(context)
    periods = load_periods(context.folder / "periods.yaml")
    charts = context.folder / "charts"
    charts.mkdir(exist_ok=True)
    with context.database.session() as session:
        by_category = series(session, SeriesQuery(by=("category",)), None)
        p2p = series(session, SeriesQuery(categories=("p2p",)), None)
    compared = compare(by_category, periods)
    lines = [f"periods: {periods_path} (baseline, restrictions, after; per country)"]
    for c in compared.comparisons:
        if c.period != "restrictions" or c.rate_ratio is None:
            continue
        lines.append(
            f"{c.key[0]}: ×{c.rate_ratio:.2f} (95 % CI {c.low:.2f}–{c.high:.2f}) during "
            f"restrictions: {c.verdict}"
        )
    found = series_changes(p2p)
    weeks = ", ".join(str(p.week) for one in found for p in one.points) or "none"
    lines.append(f"peer-to-peer change points: {weeks}")
    check = run_check(context.database, last_day - timedelta(days=7))
    lines.append(
        f"weekly check of {check.week}: {check.series_checked} series, {len(check.alerts)} alerts"
    )
    usage_file = context.scenario / "usage-events.jsonl"
    if usage_file.exists():
        from veille.analytics.usage import import_usage, read_lines, usage

        import_usage(context.database, read_lines(usage_file), "scenario")
        with context.database.session() as session:
            used = usage(session, periods, "restrictions", regular_share=0.25).as_dict()
        lines.append(
            f"database use: {used['stopped_or_reduced']} of {used['regular_users']} regular users "
            f"stopped or reduced it by half or more during the restrictions "
            f"({used['share_stopped_or_reduced']:.0%}; the seed says 60 %)"
        )
    from veille.analytics.providers import provider_statistics
    from veille.store.reports import Viewer

    with context.database.session() as session:
        response = provider_statistics(session, Viewer("demo", None), periods)
    medians = {r["period"]: r["median_hours"] for r in response if r["provider"] == "all providers"}
    if medians:
        lines.append(
            "take-down: median hours to removal "
            + ", ".join(f"{period} {hours}" for period, hours in medians.items())
        )
    questionnaire = context.scenario / "questionnaire.json"
    if questionnaire.exists():
        from veille.analytics.survey import SurveyError, survey_summary

        key = json.loads(questionnaire.read_text(encoding="utf-8"))["questionnaire_id"]
        try:
            with context.database.session() as session:
                summary = survey_summary(session, key)
        except SurveyError:
            summary = None
        if summary:
            sentences = [r["sentence"] for r in summary["rows"] if "sentence" in r]
            lines.extend(f"questionnaire: {sentence}" for sentence in sentences[:2])
    series_chart(by_category, charts / "reports-by-category.png")
    comparison_chart(compared, charts / "restrictions-vs-baseline.png")
    changes_chart(p2p, found, charts / "p2p-change-points.svg")
    lines.append(
        f"charts: {charts}/ (reports-by-category.png, restrictions-vs-baseline.png, p2p-change-points.svg)"
    )
    context.results["trends"] = compared.as_dict()
    return DemoSection("threat and trend analytics", lines)


DEMO_STEPS = (step_trends,)
