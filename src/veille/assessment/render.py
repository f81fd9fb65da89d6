"""The threat assessment as HTML (and PDF through WeasyPrint), in French or English.

Sentences that state a trend are chosen from the comparison's verdict
(:mod:`veille.assessment.compute`): "an increase" only for a significant
increase. Every figure is followed by a note that says what it counts. The
analysts' judgement comes from a notes file (YAML: one text per section
id), placed beside the computed content, so a report is regenerated
without losing it. The words come from the gettext catalog
``locale/<lang>/LC_MESSAGES/assessment.po``; adding a language is adding a
catalog (right-to-left languages get ``dir="rtl"``). Charts are embedded as
data URIs and the styles ship with Veille: rendering makes no network
request, and the PDF renderer refuses any URL that is not embedded.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import yaml
from babel.dates import format_date
from babel.numbers import format_decimal
from markupsafe import Markup, escape

from veille.assessment.compute import AssessmentData, Figure, Trend
from veille.core.i18n import catalog

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
LANGUAGES = ("en", "fr")
RIGHT_TO_LEFT = frozenset({"ar", "he", "fa", "ur"})
SECTIONS = (
    "scope",
    "triangle",
    "impact",
    "online",
    "offline",
    "conclusions",
    "recommendations",
    "appendix",
)
"""Section ids, in order: the notes file uses them."""
MAX_NOTES_BYTES = 1024 * 1024
"""A notes file is read up to this size; a larger one is refused before it is parsed."""
TRIANGLE_CELLS = ("victims", "offenders", "environment", "guardians", "handlers", "managers")


def N_(text: str) -> str:
    """Mark ``text`` for translation; it is translated where it is shown."""
    return text


SUBJECTS = {
    "p2p": N_("Peer-to-peer sharing"),
    "darknet_forum": N_("Dark-net forums"),
    "social_media": N_("Social media"),
    "messaging": N_("Messaging"),
    "video_conference": N_("Video-conference intrusions"),
    "online_gaming": N_("Online games"),
    "paid_content": N_("Paid content"),
    "offline": N_("Reports of offline abuse"),
    "domestic_abuse": N_("Reports of domestic abuse"),
    "self_generated": N_("Self-generated content"),
}
PERIODS = {
    "baseline": N_("baseline"),
    "before": N_("weeks before the restrictions"),
    "restrictions": N_("restrictions"),
    "after": N_("months after the restrictions"),
    "period": N_("period assessed"),
    "net": N_("whole period (net)"),
}


class RenderError(ValueError):
    """The report could not be rendered as asked (e.g. it names a resource off the machine)."""


class NotesError(ValueError):
    """A notes file that cannot be read (the message names the section)."""


def load_notes(path: Path | None) -> dict[str, str]:
    """The analysts' notes: section id (or ``triangle.<cell>``) → text."""
    if path is None:
        return {}
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_NOTES_BYTES + 1)
        if len(raw) > MAX_NOTES_BYTES:
            raise NotesError(f"--notes: {path} is larger than {MAX_NOTES_BYTES:,} bytes")
        data = yaml.safe_load(raw.decode("utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else error
        raise NotesError(f"--notes: {path} cannot be read: {reason}") from None
    if not isinstance(data, dict):
        raise NotesError("--notes: expected a mapping of section ids to texts")
    allowed = {*SECTIONS, *(f"triangle.{cell}" for cell in TRIANGLE_CELLS)}
    notes: dict[str, str] = {}
    for key, value in data.items():
        if key not in allowed:
            raise NotesError(f"--notes: {key!r} is not a section ({', '.join(sorted(allowed))})")
        if not isinstance(value, str) or len(value) > 20_000:
            raise NotesError(f"--notes: {key}: expected a text of at most 20,000 characters")
        notes[key] = value
    return notes


def _paragraphs(text: str) -> Markup:
    parts = [p.strip() for p in text.split("\n\n") if p.strip()]
    return Markup("".join(f"<p>{escape(p)}</p>" for p in parts))


class _Words:
    """The language's words and formats, for the template and the sentences."""

    def __init__(self, language: str) -> None:
        self.language = language
        translations = catalog(LOCALE_DIR, "assessment", language)
        self.gettext: Callable[[str], str] = translations.gettext

    def __call__(self, text: str, **values: Any) -> str:
        # Every text goes through %-formatting, so a percent sign is written %%.
        return self.gettext(text) % values

    def number(self, value: float | int | None, digits: int = 2) -> str:
        if value is None:
            return "—"
        return format_decimal(round(value, digits), locale=self.language)

    def day(self, value: date) -> str:
        return format_date(value, format="long", locale=self.language)

    def trend(self, trend: Trend) -> str:
        """The sentence the comparison's verdict allows (never "increase" without one)."""
        values = {
            "subject": self(SUBJECTS.get(trend.subject, trend.subject)),
            "period": self(PERIODS.get(trend.period, trend.period)),
            "ratio": self.number(trend.rate_ratio),
            "low": self.number(trend.low),
            "high": self.number(trend.high),
        }
        if trend.rate_ratio is None:
            return self(TOO_SHORT, **values)
        return self(TREND_SENTENCES.get(trend.verdict, TREND_SENTENCES["uncertain"]), **values)

    def counts(self, figure: Figure) -> str:
        """The note under a figure, in this language."""
        values: dict[str, Any] = {}
        for key, value in figure.values.items():
            if isinstance(value, date):
                values[key] = self.day(value)
            elif isinstance(value, tuple):
                values[key] = ", ".join(value) if value else self(N_("all countries"))
            elif isinstance(value, int | float):
                values[key] = self.number(value, 1)
            else:
                values[key] = self(PERIODS.get(str(value), str(value)))
        return self(figure.counts, **values)


TREND_SENTENCES = {
    "increase": N_(
        "%(subject)s: an increase during the %(period)s, %(ratio)s times the baseline rate "
        "(95 %% interval %(low)s–%(high)s)."
    ),
    "decrease": N_(
        "%(subject)s: a decrease during the %(period)s, %(ratio)s times the baseline rate "
        "(95 %% interval %(low)s–%(high)s)."
    ),
    "stable": N_(
        "%(subject)s: stable during the %(period)s (%(ratio)s times the baseline rate, "
        "95 %% interval %(low)s–%(high)s)."
    ),
    "uncertain": N_(
        "%(subject)s: no change can be stated for the %(period)s (%(ratio)s times the "
        "baseline rate, 95 %% interval %(low)s–%(high)s)."
    ),
}
"""The sentence of each verdict of a comparison."""
TOO_SHORT = N_("%(subject)s: too few weeks to compare the %(period)s.")


def _main_period(data: AssessmentData) -> str:
    return "restrictions" if data.options.restrictions is not None else "period"


def _charts(data: AssessmentData, words: _Words) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """The charts in the reader's language, and the table of numbers behind each one."""
    from veille.assessment import charts as draw

    drawn: dict[str, bytes] = {}
    tables: list[dict[str, Any]] = []
    month, reports_per_month = words(N_("month")), words(N_("reports per month"))

    def subject(name: str) -> str:
        return words(SUBJECTS.get(name, name))

    def table(caption: str, header: list[str], rows: list[list[Any]]) -> None:
        label = words(N_("Table A%(number)s. %(title)s"), number=len(tables) + 1, title=caption)
        tables.append({"caption": label, "header": header, "rows": rows})

    periods, series = data.monthly_online
    if series:
        title = words(N_("Reports per month by platform category"))
        named = [(subject(name), counts) for name, counts in series]
        drawn["online"] = draw.lines(
            periods, named, title=title, x_label=month, y_label=reports_per_month
        )
        table(title, [words(N_("Month")), *(n for n, _ in named)],
              [[p.isoformat()[:7], *(c[i] for _, c in named)] for i, p in enumerate(periods)])  # fmt: skip
    periods, series = data.p2p_by_country
    if series:
        title = words(N_("Peer-to-peer sharing reported per month, by country"))
        drawn["p2p_countries"] = draw.lines(
            periods, series, title=title, x_label=month, y_label=reports_per_month
        )
        shown = sorted(series, key=lambda item: -sum(item[1]))[: draw.MAX_LINES]
        table(title, [words(N_("Month")), *(n for n, _ in shown)],
              [[p.isoformat()[:7], *(c[i] for _, c in shown)] for i, p in enumerate(periods)])  # fmt: skip
    main = _main_period(data)
    compared = [
        (subject(t.subject), t.rate_ratio, t.low, t.high)
        for t in data.online
        if t.period == main
        and t.rate_ratio is not None
        and t.low is not None
        and t.high is not None
    ]
    if compared:
        title = words(N_("Rate ratios against the baseline during the %(period)s"),
                      period=words(PERIODS[main]))  # fmt: skip
        drawn["ratios"] = draw.ratios(
            compared,
            title=title,
            x_label=words(N_("rate ratio (log scale; 1 is no change)")),
        )
        table(title, [words(N_("Series")), words(N_("Rate ratio")), words(N_("95 %% interval"))],
              [[n, words.number(r), f"{words.number(lo)}–{words.number(hi)}"]
               for n, r, lo, hi in compared])  # fmt: skip
    gaps = [g for g in data.gaps if g.get("expected") is not None and g["period"] != "net"]
    if gaps:
        title = words(N_("Reports of domestic abuse: received and expected"))
        groups = [words(PERIODS.get(g["period"], g["period"])) for g in gaps]
        errors = [
            (
                max(0.0, g["expected"] - (g["observed"] - (g["gap_high"] or 0))),
                max(0.0, (g["observed"] - (g["gap_low"] or 0)) - g["expected"]),
            )
            for g in gaps
        ]
        drawn["gap"] = draw.bars(
            groups,
            [(words(N_("received")), [g["observed"] for g in gaps]),
             (words(N_("expected")), [g["expected"] for g in gaps])],
            title=title, y_label=words(N_("reports")), errors=errors,
        )  # fmt: skip
        table(title, [words(N_("Period")), words(N_("received")), words(N_("expected"))],
              [[grp, g["observed"], words.number(g["expected"], 0)]
               for grp, g in zip(groups, gaps, strict=True)])  # fmt: skip
    if data.content_rows:
        title = words(N_("Reports with classified media, unique and new content, per month"))
        rows = data.content_rows
        months = [date.fromisoformat(r["period"]) for r in rows]
        drawn["content"] = draw.lines(
            months,
            [(words(N_("reports with classified media")), [r["reports_with_media"] for r in rows]),
             (words(N_("unique content")), [r["unique_content"] for r in rows]),
             (words(N_("new content")), [r["new_content"] for r in rows])],
            title=title, x_label=month, y_label=words(N_("per month")),
        )  # fmt: skip
        table(title, [words(N_("Month")), words(N_("reports with classified media")),
                      words(N_("unique content")), words(N_("new content"))],
              [[r["period"][:7], r["reports_with_media"], r["unique_content"], r["new_content"]]
               for r in rows])  # fmt: skip
    timed = [r for r in data.takedown if r.get("median_hours") is not None]
    if timed:
        title = words(N_("Median hours to removal of take-down notices, by period"))
        groups = [words(PERIODS.get(r["period"], r["period"])) for r in timed]
        drawn["takedown"] = draw.bars(
            groups, [(words(N_("median hours")), [r["median_hours"] for r in timed])],
            title=title, y_label=words(N_("hours")),
        )  # fmt: skip
        table(title, [words(N_("Period")), words(N_("Notices")), words(N_("median hours"))],
              [[grp, r["notices"], words.number(r["median_hours"], 1)]
               for grp, r in zip(groups, timed, strict=True)])  # fmt: skip
    return drawn, tables


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return environment


def render_html(data: AssessmentData, language: str, notes: dict[str, str] | None = None) -> str:
    """The whole report as one HTML document (charts embedded)."""
    if language not in LANGUAGES and not (LOCALE_DIR / language).exists():
        raise NotesError(f"--lang: one of {', '.join(LANGUAGES)} (or a language with a catalog)")
    words = _Words(language)
    notes = notes or {}
    significant = [
        t for t in [*data.online, *data.offline] if t.verdict in ("increase", "decrease")
    ]
    drawn, tables = _charts(data, words)
    charts = {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for name, png in drawn.items()
    }
    template = _environment().get_template("assessment.html")
    return template.render(
        _=words,
        words=words,
        data=data,
        lang=language,
        direction="rtl" if language in RIGHT_TO_LEFT else "ltr",
        notes={key: _paragraphs(text) for key, text in notes.items()},
        significant=significant,
        charts=charts,
        tables=tables,
        subjects=SUBJECTS,
        periods_names=PERIODS,
        cells=TRIANGLE_CELLS,
        # Veille's own stylesheet, inlined as it is (autoescaping would break its quotes).
        css=Markup((HERE / "assessment.css").read_text(encoding="utf-8")),
    )


def render_pdf(html: str) -> bytes:
    """The PDF of the report's HTML (WeasyPrint), with no network request."""
    from PIL import ImageFile

    # Importing WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES, which would
    # let the media hashing of this process decode truncated images silently: put it back.
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    ImageFile.LOAD_TRUNCATED_IMAGES = previous

    # Only data: URLs (the embedded charts) may be read; any other stops the rendering.
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    try:
        pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    except FatalURLFetchingError as error:
        raise RenderError(f"no network while rendering: {error}") from None
    return pdf
