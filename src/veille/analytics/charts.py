"""Charts of every trends answer: series, content, comparisons, change points, gaps,
take-down times, database use and questionnaires (matplotlib, no display needed).

Colours come from the Okabe–Ito palette, which people with the common forms
of colour blindness tell apart; every chart has a title and labelled axes,
and lines also differ by marker so that the chart reads in grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from veille.analytics.changes import SeriesChanges
from veille.analytics.compare import ComparisonResult
from veille.analytics.content import ContentSeries
from veille.analytics.gap import ALL_COUNTRIES, GapResult
from veille.analytics.series import SeriesResult

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
MAX_LINES = 8
FORMATS = (".png", ".svg")


class ChartError(ValueError):
    """A chart that cannot be written as asked."""


def _figure(width: float = 9.0, height: float = 4.5):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot.subplots(figsize=(width, height), dpi=110)


def _save(figure, path: Path) -> Path:  # type: ignore[no-untyped-def]
    from matplotlib import pyplot

    if path.suffix.lower() not in FORMATS:
        raise ChartError(f"--chart: {path.name} must end in {' or '.join(FORMATS)}")
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": "Veille"} if path.suffix == ".png" else None)
    pyplot.close(figure)
    return path


def _label(by: Sequence[str], key: tuple[str, ...]) -> str:
    return ", ".join(f"{v}" for v in key) if key else "all reports"


def series_chart(result: SeriesResult, path: Path, title: str | None = None) -> Path:
    """One line per split (the largest eight), counts per period."""
    if path.suffix.lower() not in FORMATS:
        raise ChartError(f"--chart: {path.name} must end in {' or '.join(FORMATS)}")
    figure, axes = _figure()
    shown = sorted(result.series, key=lambda s: -s.total)[:MAX_LINES]
    for index, one in enumerate(shown):
        axes.plot(
            result.periods,
            one.counts,
            label=_label(result.query.by, one.key),
            color=PALETTE[index % len(PALETTE)],
            marker=MARKERS[index % len(MARKERS)],
            markersize=3,
            linewidth=1.4,
        )
    grain = result.query.grain
    axes.set_title(title or f"Reports per {grain}: {result.query.describe()}")
    axes.set_xlabel(f"{grain} starting")
    axes.set_ylabel(f"reports per {grain}")
    if len(shown) > 1:
        axes.legend(fontsize=8, ncols=2)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def comparison_chart(result: ComparisonResult, path: Path) -> Path:
    """Rate ratios against the baseline with their 95 % intervals (log scale)."""
    if path.suffix.lower() not in FORMATS:
        raise ChartError(f"--chart: {path.name} must end in {' or '.join(FORMATS)}")
    rows = [c for c in result.comparisons if c.rate_ratio is not None][:40]
    figure, axes = _figure(9.0, max(2.5, 0.3 * len(rows) + 1.5))
    periods = sorted({c.period for c in rows})
    for index, c in enumerate(rows):
        colour = PALETTE[periods.index(c.period) % len(PALETTE)]
        assert c.rate_ratio is not None and c.low is not None and c.high is not None
        axes.errorbar(
            [c.rate_ratio],
            [index],
            xerr=[[c.rate_ratio - c.low], [c.high - c.rate_ratio]],
            fmt=MARKERS[periods.index(c.period) % len(MARKERS)],
            color=colour,
            capsize=3,
        )
    axes.set_yticks(
        range(len(rows)), [f"{_label(result.by, c.key)} — {c.period}" for c in rows], fontsize=8
    )
    axes.axvline(1.0, color="#555555", linewidth=1, linestyle="--")
    axes.set_xscale("log")
    _ratio_ticks(axes, [v for c in rows for v in (c.low, c.high) if v is not None])
    axes.invert_yaxis()
    axes.set_xlabel(f"rate ratio against {result.baseline} (95 % interval, log scale)")
    axes.set_title(f"Weekly report rate against {result.baseline}: {result.filter}")
    axes.grid(alpha=0.3, axis="x")
    return _save(figure, path)


_RATIO_TICKS = (0.1, 0.2, 0.33, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)


def _ratio_ticks(axes, values: list[float]) -> None:  # type: ignore[no-untyped-def]
    """Plain-number ticks (0.5, 1, 2) on a log axis instead of powers of ten."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, ScalarFormatter

    low, high = min([1.0, *values]), max([1.0, *values])
    ticks = [t for t in _RATIO_TICKS if low / 1.1 <= t <= high * 1.1]
    axes.xaxis.set_major_locator(FixedLocator(ticks))
    axes.xaxis.set_major_formatter(ScalarFormatter())
    axes.xaxis.set_minor_locator(NullLocator())
    axes.xaxis.set_minor_formatter(NullFormatter())


def changes_chart(result: SeriesResult, changes: list[SeriesChanges], path: Path) -> Path:
    """The series with a dashed line at each change point."""
    if path.suffix.lower() not in FORMATS:
        raise ChartError(f"--chart: {path.name} must end in {' or '.join(FORMATS)}")
    figure, axes = _figure()
    points = {c.key: c.points for c in changes}
    shown = sorted(result.series, key=lambda s: -s.total)[:MAX_LINES]
    for index, one in enumerate(shown):
        colour = PALETTE[index % len(PALETTE)]
        axes.plot(
            result.periods,
            one.counts,
            label=_label(result.query.by, one.key),
            color=colour,
            marker=MARKERS[index % len(MARKERS)],
            markersize=3,
            linewidth=1.4,
        )
        for point in points.get(one.key, []):
            axes.axvline(point.week, color=colour, linestyle="--", linewidth=1)
    axes.set_title(f"Change points (dashed): {result.query.describe()}")
    axes.set_xlabel("week starting")
    axes.set_ylabel("reports per week")
    if len(shown) > 1:
        axes.legend(fontsize=8, ncols=2)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def content_chart(result: ContentSeries, path: Path) -> Path:
    """Reports, unique content and new content per period: volume against what is new."""
    from datetime import date

    if path.suffix.lower() not in FORMATS:
        raise ChartError(f"--chart: {path.name} must end in {' or '.join(FORMATS)}")
    figure, axes = _figure()
    periods = [date.fromisoformat(r["period"]) for r in result.rows]
    for index, (column, label) in enumerate(
        (
            ("reports", "reports"),
            ("unique_content", "unique content"),
            ("new_content", "new content"),
        )
    ):
        axes.plot(
            periods,
            [r[column] for r in result.rows],
            label=label,
            color=PALETTE[index],
            marker=MARKERS[index],
            markersize=3,
            linewidth=1.4,
        )
    grain = result.query.grain
    axes.set_title(f"Reports against unique and new content per {grain}: {result.query.describe()}")
    axes.set_xlabel(f"{grain} starting")
    axes.set_ylabel(f"count per {grain}")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def _check(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise ChartError(f"--chart: {path.name} must end in {' or '.join(FORMATS)}")


def gap_chart(result: GapResult, path: Path) -> Path:
    """Observed minus expected reports per period, with the 95 % interval; zero is no gap."""
    _check(path)
    # The rows that add every country up come first (a pooled gap), then each series.
    rows = sorted(
        (g for g in result.gaps if g.gap is not None), key=lambda g: ALL_COUNTRIES not in g.key
    )[:40]
    figure, axes = _figure(9.0, max(2.5, 0.3 * len(rows) + 1.5))
    periods = sorted({g.period for g in rows})
    for index, g in enumerate(rows):
        assert g.gap is not None and g.low is not None and g.high is not None
        place = periods.index(g.period)
        axes.errorbar(
            [g.gap],
            [index],
            xerr=[[g.gap - g.low], [g.high - g.gap]],
            fmt=MARKERS[place % len(MARKERS)],
            color=PALETTE[place % len(PALETTE)],
            capsize=3,
        )
    axes.set_yticks(
        range(len(rows)), [f"{_label(result.by, g.key)} — {g.period}" for g in rows], fontsize=8
    )
    axes.axvline(0.0, color="#555555", linewidth=1, linestyle="--")
    axes.invert_yaxis()
    axes.set_xlabel(
        f"reports observed − expected from {result.baseline} (95 % interval; below 0: a shortfall)"
    )
    axes.set_title(f"Reporting gap against {result.baseline}: {result.filter}")
    axes.grid(alpha=0.3, axis="x")
    return _save(figure, path)


def providers_chart(rows: list[dict[str, Any]], path: Path) -> Path:
    """Median hours to removal per provider and period (bars), the 90th percentile as a tick."""
    _check(path)
    providers = list(dict.fromkeys(r["provider"] for r in rows))[:MAX_LINES]
    periods = list(dict.fromkeys(r["period"] for r in rows))
    figure, axes = _figure(9.0, max(2.5, 0.5 * len(providers) * max(1, len(periods)) / 2 + 1.5))
    height = 0.8 / max(1, len(periods))
    cells = {(r["provider"], r["period"]): r for r in rows}
    for p, period in enumerate(periods):
        places = [i + p * height for i in range(len(providers))]
        medians = [(cells.get((name, period)) or {}).get("median_hours") for name in providers]
        tops = [(cells.get((name, period)) or {}).get("p90_hours") for name in providers]
        axes.barh(
            places,
            [m or 0 for m in medians],
            height=height,
            color=PALETTE[p % len(PALETTE)],
            hatch=("", "//", "..", "xx")[p % 4],
            label=period,
        )
        shown = [(y, t) for y, t in zip(places, tops, strict=True) if t is not None]
        if shown:
            axes.plot(
                [t for _y, t in shown],
                [y for y, _t in shown],
                linestyle="none",
                marker="|",
                markersize=10,
                color="#000000",
            )
    axes.set_yticks([i + height * (len(periods) - 1) / 2 for i in range(len(providers))], providers)
    axes.invert_yaxis()
    axes.set_xlabel("hours from notice to removal: median (bar), 90th percentile (tick)")
    axes.set_title("Take-down response per provider and period")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3, axis="x")
    return _save(figure, path)


def usage_chart(data: dict[str, Any], path: Path) -> Path:
    """Each regular user's use in the period against the baseline, coloured by its status."""
    _check(path)
    drop = float(data["drop"])
    rows = [a for a in data["agencies"] if a.get("regular") and a.get("ratio") is not None][:40]
    figure, axes = _figure(9.0, max(2.5, 0.3 * len(rows) + 1.5))
    statuses = sorted({a["status"] for a in rows})
    for s, status in enumerate(statuses):
        chosen = [(i, a) for i, a in enumerate(rows) if a["status"] == status]
        axes.barh(
            [i for i, _a in chosen],
            [a["ratio"] for _i, a in chosen],
            color=PALETTE[s % len(PALETTE)],
            hatch=("", "//", "..", "xx")[s % 4],
            label=status,
        )
        # A use that stopped has no bar to see: a cross at zero.
        zero = [i for i, a in chosen if a["ratio"] == 0]
        if zero:
            axes.plot(
                [0.0] * len(zero),
                zero,
                linestyle="none",
                marker="X",
                color=PALETTE[s % len(PALETTE)],
            )
    axes.set_yticks(range(len(rows)), [a["agency"] for a in rows], fontsize=8)
    axes.axvline(1.0, color="#555555", linewidth=1, linestyle="--")
    axes.axvline(1.0 - drop, color="#D55E00", linewidth=1, linestyle=":")
    axes.invert_yaxis()
    axes.set_xlabel(
        f"use per week in {data['period']} ÷ use per week in {data['baseline']} "
        f"(dotted: the {drop:.0%} drop that counts as reduced)"
    )
    axes.set_title(
        f"Database use of regular users: {data['stopped_or_reduced']} of "
        f"{data['regular_users']} stopped or reduced"
    )
    if statuses:
        axes.legend(fontsize=8)
    axes.grid(alpha=0.3, axis="x")
    return _save(figure, path)


SURVEY_ANSWERS = ("increase", "stable", "decrease", "unknown", "mixed")


def survey_chart(summary: dict[str, Any], path: Path) -> Path:
    """Countries per answer for each closed question (all regions), stacked."""
    _check(path)
    rows = [r for r in summary["rows"] if r["region"] == "all regions"][:40]
    figure, axes = _figure(9.0, max(2.5, 0.35 * len(rows) + 1.5))
    left = [0] * len(rows)
    for a, answer in enumerate(SURVEY_ANSWERS):
        counts = [int(r.get(answer, 0) or 0) for r in rows]
        if not any(counts):
            continue
        axes.barh(
            range(len(rows)),
            counts,
            left=left,
            color=PALETTE[a % len(PALETTE)],
            hatch=("", "//", "..", "xx", "--")[a % 5],
            label=answer,
        )
        left = [x + c for x, c in zip(left, counts, strict=True)]
    axes.set_yticks(range(len(rows)), [r["question"] for r in rows], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("countries")
    axes.set_title(f"{summary['title']}: answers per question")
    axes.legend(
        fontsize=8, ncols=len(SURVEY_ANSWERS), loc="upper center", bbox_to_anchor=(0.5, -0.12)
    )
    axes.grid(alpha=0.3, axis="x")
    return _save(figure, path)
