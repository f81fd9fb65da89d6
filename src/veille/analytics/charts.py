"""Charts of series, comparisons and change points (matplotlib, no display needed).

Colours come from the Okabe–Ito palette, which people with the common forms
of colour blindness tell apart; every chart has a title and labelled axes,
and lines also differ by marker so that the chart reads in grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from veille.analytics.changes import SeriesChanges
from veille.analytics.compare import ComparisonResult
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
