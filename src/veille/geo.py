"""Countries: ISO 3166-1 alpha-2 codes validated with pycountry."""

from __future__ import annotations

from functools import lru_cache

import pycountry


class CountryError(ValueError):
    """A value that is not an ISO 3166-1 country."""


@lru_cache(maxsize=512)
def normalise_country(value: str) -> str:
    """The ISO 3166-1 alpha-2 code for ``value`` (alpha-2, alpha-3 or numeric).

    >>> normalise_country("fra")
    'FR'
    """
    text = value.strip().upper()
    if not text:
        raise CountryError("empty country code")
    record = None
    if len(text) == 2:
        record = pycountry.countries.get(alpha_2=text)
    elif len(text) == 3 and text.isdigit():
        record = pycountry.countries.get(numeric=text)
    elif len(text) == 3:
        record = pycountry.countries.get(alpha_3=text)
    if record is None:
        raise CountryError(f"{value!r} is not an ISO 3166-1 country code (expected e.g. 'FR')")
    return str(record.alpha_2)


def country_name(code: str) -> str:
    """The English short name of an alpha-2 code, or the code itself if unknown."""
    record = pycountry.countries.get(alpha_2=code)
    return str(record.name) if record is not None else code
