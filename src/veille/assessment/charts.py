"""The assessment's charts, drawn in the reader's language (PNG bytes for data URIs).

Each chart has a title and axis labels in the report's language, uses the
colour-blind-safe palette of the analytics charts (Okabe–Ito) with a marker
per line, and has its numbers as a table in the appendix.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from veille.analytics.charts import MARKERS, PALETTE

MAX_LINES = 8

Label = Callable[..., str]


def _figure(width: float = 8.5, height: float = 3.8) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot.subplots(figsize=(width, height), dpi=110)


def _png(figure: Any) -> bytes:
    from matplotlib import pyplot

    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": "Veille"})
    pyplot.close(figure)
    return out.getvalue()


def lines(
    periods: Sequence[date],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
) -> bytes:
    """One line per series (the largest eight), counts per period."""
    figure, axes = _figure()
    shown = sorted(series, key=lambda item: -sum(item[1]))[:MAX_LINES]
    for index, (name, counts) in enumerate(shown):
        axes.plot(
            list(periods),
            list(counts),
            label=name,
            color=PALETTE[index % len(PALETTE)],
            marker=MARKERS[index % len(MARKERS)],
            markersize=3,
            linewidth=1.4,
        )
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    if len(shown) > 1:
        axes.legend(fontsize=7, ncols=2)
    axes.grid(alpha=0.3)
    return _png(figure)


def ratios(rows: Sequence[tuple[str, float, float, float]], *, title: str, x_label: str) -> bytes:
    """Rate ratios with their 95 % intervals, one row per series, against 1 (no change)."""
    figure, axes = _figure(height=max(2.2, 0.45 * len(rows) + 1.2))
    names = [row[0] for row in rows]
    values = [row[1] for row in rows]
    low = [row[1] - row[2] for row in rows]
    high = [row[3] - row[1] for row in rows]
    positions = list(range(len(rows)))
    axes.errorbar(
        values, positions, xerr=[low, high], fmt="o", color=PALETTE[0], ecolor=PALETTE[0],
        capsize=3,
    )  # fmt: skip
    axes.axvline(1.0, color="#555555", linewidth=1, linestyle="--")
    axes.set_yticks(positions, names)
    axes.set_xscale("log")
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.grid(alpha=0.3, axis="x")
    return _png(figure)


def bars(
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    y_label: str,
    errors: Sequence[tuple[float, float]] | None = None,
) -> bytes:
    """Grouped bars: one group per label, one bar per series (errors on the last series)."""
    figure, axes = _figure()
    width = 0.8 / max(1, len(series))
    for index, (name, values) in enumerate(series):
        offsets = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        yerr = None
        if errors is not None and index == len(series) - 1:
            yerr = [[e[0] for e in errors], [e[1] for e in errors]]
        axes.bar(
            offsets, list(values), width=width, label=name, color=PALETTE[index % len(PALETTE)],
            yerr=yerr, capsize=3 if yerr else 0, hatch=("", "//", "..")[index % 3],
        )  # fmt: skip
    axes.set_xticks(list(range(len(groups))), list(groups))
    axes.set_title(title)
    axes.set_ylabel(y_label)
    if len(series) > 1:
        axes.legend(fontsize=8)
    axes.grid(alpha=0.3, axis="y")
    return _png(figure)
