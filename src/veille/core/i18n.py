"""Gettext catalogs compiled in memory (Babel): one helper for every part that speaks French.

A catalog is a ``.po`` file in ``<directory>/<language>/LC_MESSAGES/<domain>.po``;
English is the source language and needs none. The file is compiled when first
asked for, so the repository holds no generated ``.mo`` file and there is no
build step.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations


@cache
def catalog(directory: Path, domain: str, language: str) -> NullTranslations:
    """The translations of ``domain`` into ``language`` (English: the words as written)."""
    path = directory / language / "LC_MESSAGES" / f"{domain}.po"
    if language == "en" or not path.exists():
        return NullTranslations()
    with path.open("rb") as stream:
        messages = read_po(stream, locale=language, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, messages)
    compiled.seek(0)
    return Translations(compiled, domain=domain)
