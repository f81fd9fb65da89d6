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
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise NotesError(f"--notes: {path} cannot be read: {error}") from None
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
    charts = {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for name, png in data.charts.items()
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
        subjects=SUBJECTS,
        periods_names=PERIODS,
        cells=TRIANGLE_CELLS,
        # Veille's own stylesheet, inlined as it is (autoescaping would break its quotes).
        css=Markup((HERE / "assessment.css").read_text(encoding="utf-8")),
    )


def render_pdf(html: str) -> bytes:
    """The PDF of the report's HTML (WeasyPrint), with no network request."""
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    # Only data: URLs (the embedded charts) may be read; any other stops the rendering.
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    try:
        pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    except FatalURLFetchingError as error:
        raise RenderError(f"no network while rendering: {error}") from None
    return pdf
