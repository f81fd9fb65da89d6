"""Analytics' part of ``veille demo``: the headline trends of the scenario, with charts.

The demo writes a periods file from the scenario's restriction dates (each
country's, as a government would publish them; the effects planted in
``truth.json`` are not read), compares the restrictions and the months after
with the year before, per platform category, finds change points in the
peer-to-peer series, runs the weekly check on the scenario's last week, and
draws the charts into ``<demo folder>/charts``.
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
    weeks = ", ".join(str(p.week) for p in found[0].points) or "none"
    lines.append(f"peer-to-peer change points: {weeks}")
    check = run_check(context.database, last_day - timedelta(days=7))
    lines.append(
        f"weekly check of {check.week}: {check.series_checked} series, {len(check.alerts)} alerts"
    )
    series_chart(by_category, charts / "reports-by-category.png")
    comparison_chart(compared, charts / "restrictions-vs-baseline.png")
    changes_chart(p2p, found, charts / "p2p-change-points.svg")
    lines.append(
        f"charts: {charts}/ (reports-by-category.png, restrictions-vs-baseline.png, p2p-change-points.svg)"
    )
    context.results["trends"] = compared.as_dict()
    return DemoSection("threat and trend analytics", lines)


DEMO_STEPS = (step_trends,)
