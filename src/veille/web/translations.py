"""The web application's words in English and French, from gettext catalogs (Babel).

Templates and routes write English inside ``_()``; French comes from
``locale/fr/LC_MESSAGES/veille.po``, compiled in memory when first needed
(no build step, nothing generated in the repository). Adding a language is
adding a catalog: ``pybabel init -i veille.pot -d src/veille/web/locale -l es``
after ``pybabel extract -F babel.cfg -o veille.pot src/veille/web`` (see
docs/web.md). Dates and numbers are formatted per locale with Babel.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from babel.dates import format_datetime
from babel.numbers import format_decimal
from babel.support import NullTranslations

from veille.core.i18n import catalog

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "veille"
LANGUAGES = ("en", "fr")
"""The languages of the web application; English is the source."""
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}


def translations(language: str) -> NullTranslations:
    """The catalog of ``language`` (English: the words as written)."""
    return catalog(LOCALE_DIR, DOMAIN, language)


def pick_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """The language asked for in the query, else kept in the cookie, else the browser's."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    for part in (accept or "").split(",")[:10]:
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def when(value: datetime | None, language: str) -> str:
    """A date and time in the reader's language (UTC, as stored)."""
    if value is None:
        return "—"
    return format_datetime(value, format="medium", tzinfo=None, locale=language) + " UTC"


def number(value: float | int | None, language: str) -> str:
    """A number in the reader's language (grouping, decimal sign)."""
    if value is None:
        return "—"
    return format_decimal(value, locale=language)
