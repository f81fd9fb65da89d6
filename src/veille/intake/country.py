"""Which country a report concerns, from what the channel knows, and why.

The order is: a country the sender provides as its own estimate (an ESP's
``estimatedLocation``), then the first IP address that geolocates, then the
first phone number's country, then the country the reporter stated. The IP
database ships inside the ``geoip2fast`` package, so nothing is downloaded at
run time. Documentation and private address ranges do not geolocate and fall
through to the next clue.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from veille.linking.normalise import phone_country
from veille.vocab import CountryReason

_lock = threading.Lock()
_geoip: Any = None


def _database() -> Any:
    global _geoip
    with _lock:
        if _geoip is None:
            from geoip2fast import GeoIP2Fast

            _geoip = GeoIP2Fast()
        return _geoip


def ip_country(address: str) -> str | None:
    """The ISO alpha-2 country of an IP address, or ``None`` when unknown or private."""
    try:
        result = _database().lookup(address)
    except Exception:  # the lookup raises its own types on malformed input
        return None
    code = getattr(result, "country_code", None)
    if not isinstance(code, str) or len(code) != 2 or not code.isalpha():
        return None
    if getattr(result, "is_private", False):
        return None
    return code.upper()


@dataclass(frozen=True)
class CountryClues:
    """What a channel knows that hints at a country."""

    provided: str | None = None
    ips: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    stated: str | None = None

    @classmethod
    def of(
        cls,
        *,
        provided: str | None = None,
        ips: Iterable[str] = (),
        phones: Iterable[str] = (),
        stated: str | None = None,
    ) -> CountryClues:
        """Clues from any iterables (kept as tuples)."""
        return cls(provided, tuple(ips), tuple(phones), stated)


def derive_country(clues: CountryClues) -> tuple[str | None, CountryReason]:
    """The chosen country and the reason, following the order in the module docstring."""
    if clues.provided:
        return clues.provided, CountryReason.PROVIDED
    for address in clues.ips:
        country = ip_country(address)
        if country:
            return country, CountryReason.IP
    for number in clues.phones:
        country = phone_country(number)
        if country:
            return country, CountryReason.PHONE
    if clues.stated:
        return clues.stated, CountryReason.STATED
    return None, CountryReason.UNKNOWN
