"""How identifiers and names are written in reports: variants, typos, shared addresses.

Real reports spell one account many ways. Some differences vanish under the
import normalisation (capitals of an e-mail, a phone in national format);
others make another value (a typo, a ``+tag``, a handle changed after a
ban). Every function here returns the written value; the report builder
records, in the truth, which identity it came from and whether the change
is absorbed (``exact``) or not (``variant``).

Addresses are shared for other reasons: dynamic IPv4 addresses pass from
subscriber to subscriber, and carrier-grade NAT gateways and public Wi-Fi
put a country's users behind a few addresses.
"""

from __future__ import annotations

import ipaddress
import random
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import phonenumbers

from veille.synth.config import Addresses
from veille.synth.identifiers import DYNAMIC_POOL, IdentifierFactory

_NEIGHBOURS = {
    "a": "qs",
    "e": "wr",
    "i": "uo",
    "o": "ip",
    "u": "yi",
    "n": "bm",
    "m": "n",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "l": "k",
}


def _typo(text: str, rng: random.Random) -> str:
    """``text`` with one slip of the keyboard: two letters swapped, one dropped or doubled, or a neighbour."""
    if len(text) < 3:
        return text + text[-1:]
    for _ in range(8):
        position = rng.randrange(1, len(text) - 1)
        kind = rng.randrange(4)
        if kind == 0:
            changed = text[:position] + text[position + 1] + text[position] + text[position + 2 :]
        elif kind == 1:
            changed = text[:position] + text[position + 1 :]
        elif kind == 2:
            changed = text[: position + 1] + text[position:]
        else:
            options = _NEIGHBOURS.get(text[position].lower(), "")
            if not options:
                continue
            changed = text[:position] + options[rng.randrange(len(options))] + text[position + 1 :]
        if changed != text and changed[:1].isalnum() and changed[-1:].isalnum():
            return changed
    return text + text[-1:]


def email_case(value: str, rng: random.Random) -> str:
    """The same address with other capitals (``Amber.Fox@Example.com``)."""
    local, domain = value.rsplit("@", 1)
    if rng.random() < 0.5:
        local = ".".join(part.capitalize() for part in local.split("."))
    else:
        local = local.upper()
    return f"{local}@{domain.capitalize() if rng.random() < 0.5 else domain}"


def email_variant(value: str, rng: random.Random) -> str:
    """Another address that a reader would take for the same one: a typo or a ``+tag``."""
    local, domain = value.rsplit("@", 1)
    if rng.random() < 0.3:
        return f"{local}+{('chat', 'pics', 'alt', 'x')[rng.randrange(4)]}@{domain}"
    return f"{_typo(local, rng)}@{domain}"


@lru_cache(maxsize=65_536)
def _phone_forms(e164: str) -> tuple[str, str, str]:
    # Parsing and formatting cost ~0.1 ms; an offender's number is written again and again.
    number = phonenumbers.parse(e164, None)
    return (
        phonenumbers.region_code_for_country_code(number.country_code or 0),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
    )


def phone_format(e164: str, report_country: str, rng: random.Random) -> str:
    """The same number as people write it: national form at home, spaced international form elsewhere."""
    home, national, spaced = _phone_forms(e164)
    if home == report_country and rng.random() < 0.6:
        return national
    return spaced.replace(" ", "-") if rng.random() < 0.3 else spaced


def phone_typo(e164: str, rng: random.Random) -> str:
    """The number with one of its last two digits wrong (still inside the fictional block)."""
    position = len(e164) - 1 - rng.randrange(2)
    digit = (int(e164[position]) + rng.randrange(1, 10)) % 10
    return e164[:position] + str(digit) + e164[position + 1 :]


def username_case(value: str, rng: random.Random) -> str:
    """The same handle with other capitals."""
    return (
        "_".join(part.capitalize() for part in value.split("_"))
        if rng.random() < 0.7
        else value.upper()
    )


def username_variant(value: str, rng: random.Random) -> str:
    """A handle made from another by a small change, as people do when they register again."""
    kind = rng.randrange(6)
    if kind == 0:
        return f"{value}{rng.randrange(10)}"
    if kind == 1:
        return value.replace("_", ".", 1) if "_" in value else f"{value}_"
    if kind == 2:
        return f"{value}_{('x', 'xx', 'real', 'new', '2')[rng.randrange(5)]}"
    if kind == 3:
        changed = value.replace("o", "0", 1).replace("i", "1", 1)
        return changed if changed != value else f"x{value}"
    if kind == 4:
        return value.replace("_", "", 1) if "_" in value else f"{value}{value[-1]}"
    return _typo(value, rng)


# -- names ---------------------------------------------------------------------------

_TRANSLITERATIONS = (
    ("ä", "ae"),
    ("ö", "oe"),
    ("ü", "ue"),
    ("ß", "ss"),
    ("ph", "f"),
    ("th", "t"),
    ("ck", "k"),
    ("sch", "sh"),
    ("ou", "u"),
    ("y", "i"),
    ("w", "v"),
    ("c", "k"),
)


def ascii_fold(text: str) -> str:
    """``text`` without diacritics (``Müller`` → ``Muller``)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def transliterate(text: str) -> str:
    """Another romanisation of a name: the first rule that applies (``ü`` → ``ue``, ``ph`` → ``f``...)."""
    lower = text.lower()
    for source, target in _TRANSLITERATIONS:
        if source in lower:
            start = lower.index(source)
            replaced = text[start : start + len(source)]
            written = target.capitalize() if replaced[:1].isupper() else target
            return text[:start] + written + text[start + len(source) :]
    if not text.isascii():
        return ascii_fold(text)
    return text + text[-1] if len(text) > 2 else text


def name_variant(given: str, family: str, rng: random.Random) -> tuple[str, str, str]:
    """A name as a reporter may write it, and the kind of change."""
    kind = rng.randrange(5)
    if kind == 0:
        return given, transliterate(family), "transliteration"
    if kind == 1:
        return ascii_fold(given).upper(), ascii_fold(family).upper(), "upper_ascii"
    if kind == 2 and len(family) > 3:
        return given, _typo(family, rng), "typo"
    if kind == 3:
        return given[:1] + ".", family, "initial"
    return family, given, "swapped"


# -- addresses -----------------------------------------------------------------------


@dataclass
class AddressPlan:
    """Where reported IPv4 addresses come from: dynamic leases, gateways, public Wi-Fi."""

    seed: int
    settings: Addresses
    countries: list[str]
    factory: IdentifierFactory
    gateways: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _pool_start: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        per_country = self.settings.cgnat_per_country + self.settings.wifi_per_country
        shared = self.factory.shared_ipv4(per_country * len(self.countries))
        pool = self.settings.dynamic_pool_per_country
        if pool * len(self.countries) > DYNAMIC_POOL.num_addresses:
            raise ValueError(
                "addresses.dynamic_pool_per_country: too large for 198.18.0.0/15 "
                f"({len(self.countries)} countries)"
            )
        for index, country in enumerate(self.countries):
            mine = shared[index * per_country : (index + 1) * per_country]
            self.gateways[country] = [
                (address, "cgnat" if n < self.settings.cgnat_per_country else "wifi")
                for n, address in enumerate(mine)
            ]
            self._pool_start[country] = int(DYNAMIC_POOL.network_address) + index * pool

    def lease(self, country: str, subscriber: int, when: datetime) -> str:
        """The dynamic address ``subscriber`` of ``country`` held at ``when``.

        Each lease period the address is drawn again from the country's pool,
        so one address serves many subscribers over time (and, by chance,
        sometimes two at once: such is a shared pool).
        """
        period = int(when.timestamp() // (self.settings.lease_days * 86_400))
        slot = zlib.crc32(f"{self.seed}:{country}:{subscriber}:{period}".encode())
        address = self._pool_start[country] + slot % self.settings.dynamic_pool_per_country
        return str(ipaddress.IPv4Address(address))

    def gateway(self, country: str, rng: random.Random) -> str | None:
        """A carrier-grade NAT or public Wi-Fi address of ``country``."""
        options = self.gateways.get(country)
        if not options:
            return None
        return options[rng.randrange(len(options))][0]

    def truth(self) -> dict[str, object]:
        """The shared addresses, by country and kind, and the dynamic pool."""
        return {
            "addresses": [a for options in self.gateways.values() for a, _ in options],
            "gateways": {
                country: [{"address": a, "kind": kind} for a, kind in options]
                for country, options in self.gateways.items()
            },
            "dynamic_pool": {
                "network": str(DYNAMIC_POOL),
                "per_country": self.settings.dynamic_pool_per_country,
                "lease_days": self.settings.lease_days,
            },
        }
