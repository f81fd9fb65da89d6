"""Synthetic identifiers, all inside reserved or fictional ranges, and the check for it.

E-mails use the example domains (RFC 2606), IP addresses the documentation
ranges (RFC 5737, RFC 3849) and, for dynamic addresses, the benchmarking
range (RFC 2544), phones the ranges regulators set aside for fiction (Ofcom,
ARCEP, NANP 555-01xx, ACMA), URLs the ``.example`` TLD.

The n-th value is drawn through a keyed permutation of the index space (a
small Feistel network), not written as a counter: values stay unique, but
nothing about a value tells whether it was made early (for a planted
offender) or late (for a one-off user).
"""

from __future__ import annotations

import ipaddress
import random
import re
import zlib

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
IPV4_DOCUMENTATION = tuple(
    ipaddress.ip_network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
IPV6_DOCUMENTATION = ipaddress.ip_network("2001:db8::/32")
DYNAMIC_POOL = ipaddress.ip_network("198.18.0.0/15")
"""Dynamic addresses leased to subscribers in turn (RFC 2544's benchmarking range)."""

# Fictional phone blocks per country: (E.164 prefix, digits to fill).
PHONE_BLOCKS: dict[str, tuple[tuple[str, int], ...]] = {
    "GB": (
        ("+447700900", 3),
        ("+442079460", 3),
        ("+441134960", 3),
        ("+441614960", 3),
        ("+441214960", 3),
    ),
    "FR": (("+3363998", 4), ("+3319900", 4)),
    "US": tuple(
        (f"+1{area}55501", 2)
        for area in ("212", "213", "305", "312", "404", "415", "503", "602", "713", "917")
    ),
    "CA": tuple((f"+1{area}55501", 2) for area in ("416", "514", "604", "613", "403")),
    "AU": (("+6125550", 4), ("+6135550", 4), ("+6175550", 4), ("+6185550", 4)),
}
_PHONE_PATTERNS = [
    re.compile(rf"^{re.escape(prefix)}\d{{{digits}}}$")
    for blocks in PHONE_BLOCKS.values()
    for prefix, digits in blocks
]
_US_FICTION = re.compile(r"^\+1\d{3}55501\d\d$")


class KeyedPermutation:
    """A keyed bijection of ``range(size)``: a four-round Feistel network with cycle walking.

    ``permute(i)`` for i = 0, 1, 2... gives distinct values spread over the
    whole range, so an index (how early a value was made) cannot be read back
    without the key.
    """

    def __init__(self, key: int, size: int) -> None:
        if size < 2:
            raise ValueError("size must be at least 2")
        self.size = size
        bits = max(2, (size - 1).bit_length())
        self.half_bits = (bits + 1) // 2
        self.mask = (1 << self.half_bits) - 1
        self.keys = [
            (key * 0x9E3779B97F4A7C15 + round_ * 0xBF58476D1CE4E5B9) & (2**64 - 1)
            for round_ in range(4)
        ]

    def _round(self, value: int, key: int) -> int:
        mixed = (value * 0xFF51AFD7ED558CCD + key) & (2**64 - 1)
        mixed ^= mixed >> 29
        mixed = (mixed * 0xC4CEB9FE1A85EC53) & (2**64 - 1)
        return (mixed ^ (mixed >> 32)) & self.mask

    def _once(self, value: int) -> int:
        left, right = value >> self.half_bits, value & self.mask
        for key in self.keys:
            left, right = right, left ^ self._round(right, key)
        return (left << self.half_bits) | right

    def permute(self, index: int) -> int:
        """The image of ``index`` (0 <= index < size)."""
        if not 0 <= index < self.size:
            raise ValueError(f"index {index} outside 0..{self.size - 1}")
        value = self._once(index)
        while value >= self.size:  # cycle walking: stays a bijection of range(size)
            value = self._once(value)
        return value


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text


_VALUE_SPACE = 1 << 44
_PART_STRIDE = 1 << 40


class IdentifierFactory:
    """Makes unique synthetic identifiers from a word pool and a keyed permutation."""

    def __init__(self, rng: random.Random, words: list[str], key: int = 0) -> None:
        self.rng = rng
        self.words = words
        self.key = key
        self.counter = 0
        self.values = KeyedPermutation(key, _VALUE_SPACE)
        self.phone_permutations: dict[str, KeyedPermutation] = {}
        self.phone_next: dict[str, int] = {}
        self.phone_base: dict[str, int] = {}
        self.phone_stride = 1
        self.phone_offset = 0

    def start_part(self, part: int, parts: int, rng: random.Random) -> None:
        """Prepare this (forked) copy for part ``part`` of ``parts``: its own indexes and randomness.

        Values made before the split (the offenders') keep the low indexes;
        each part then takes its own slice, so parts never repeat a value.
        """
        self.rng = rng
        self.counter = (part + 1) * _PART_STRIDE
        self.phone_offset = part
        self.phone_stride = parts
        self.phone_base = dict(self.phone_next)
        self.phone_next = dict.fromkeys(self.phone_next, 0)

    def _next(self) -> str:
        self.counter += 1
        return _base36(self.values.permute(self.counter))

    def _word(self) -> str:
        return self.words[self.rng.randrange(len(self.words))]

    def username(self) -> str:
        """A screen name such as ``amber_fox2k9x``."""
        return f"{self._word()}_{self._word()}{self._next()}"

    def email(self) -> str:
        """An address at an example domain."""
        domain = EMAIL_DOMAINS[self.rng.randrange(3)]
        return f"{self._word()}.{self._word()}{self._next()}@{domain}"

    def ipv6(self) -> str:
        """A unique address in 2001:db8::/32."""
        self.counter += 1
        drawn = self.values.permute(self.counter)
        # Every group is non-zero, so this is already the canonical (compressed) text.
        groups = (
            self.rng.randrange(1, 0x10000),
            drawn // 0xFFFF**2 % 0xFFFF + 1,
            drawn // 0xFFFF % 0xFFFF + 1,
            drawn % 0xFFFF + 1,
            self.rng.randrange(1, 0x10000),
            self.rng.randrange(1, 0x10000),
        )
        return "2001:db8:" + ":".join(f"{g:x}" for g in groups)

    def shared_ipv4(self, count: int) -> list[str]:
        """``count`` distinct addresses of the documentation ranges (gateways, public Wi-Fi)."""
        hosts = [
            str(net.network_address + host) for net in IPV4_DOCUMENTATION for host in range(1, 255)
        ]
        if count > len(hosts):
            raise ValueError(f"at most {len(hosts)} shared addresses fit the documentation ranges")
        order = KeyedPermutation(self.key ^ 0x5EED, len(hosts))
        return [hosts[order.permute(i)] for i in range(count)]

    def p2p_client_id(self) -> str:
        """A 32-hex-digit client GUID."""
        return f"{self.rng.getrandbits(128):032X}"

    def payment_handle(self) -> str:
        """A handle on a fictional payment service."""
        return f"paytag:{self._word()}{self._next()}"

    def device_id(self) -> str:
        """A device identifier."""
        return f"dev-{self.rng.getrandbits(64):016x}"

    def phone(self, country: str) -> str | None:
        """A unique fictional number of ``country``, or ``None`` when it has none left."""
        blocks = PHONE_BLOCKS.get(country)
        if not blocks:
            return None
        if country not in self.phone_permutations:
            capacity = sum(10**digits for _, digits in blocks)
            self.phone_permutations[country] = KeyedPermutation(
                self.key ^ zlib.crc32(country.encode()), capacity
            )
            self.phone_next[country] = 0
        order = self.phone_permutations[country]
        position = (
            self.phone_base.get(country, 0)
            + self.phone_next[country] * self.phone_stride
            + self.phone_offset
        )
        if position >= order.size:
            return None
        self.phone_next[country] += 1
        slot = order.permute(position)
        for prefix, digits in blocks:
            if slot < 10**digits:
                return f"{prefix}{slot:0{digits}d}"
            slot -= 10**digits
        return None

    def url(self, domain: str) -> str:
        """A page on a ``.example`` host."""
        return f"https://{domain}/p/{self._next()}{self.rng.getrandbits(30):x}"


def is_reserved(kind: str, value: str) -> bool:
    """Whether a generated identifier stays inside the reserved and fictional ranges.

    Phones are checked in E.164 form: normalise a number written in national
    or spaced format first.
    """
    if kind == "email":
        domain = value.rsplit("@", 1)[-1].lower()
        return domain.endswith(".example") or any(
            domain == d or domain.endswith("." + d) for d in EMAIL_DOMAINS
        )
    if kind == "ip":
        address = ipaddress.ip_address(value)
        if address.version == 4:
            return address in DYNAMIC_POOL or any(address in net for net in IPV4_DOCUMENTATION)
        return address in IPV6_DOCUMENTATION
    if kind == "phone":
        return bool(_US_FICTION.match(value)) or any(p.match(value) for p in _PHONE_PATTERNS)
    if kind == "url":
        host = value.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
        return host.endswith(".example") or any(
            host == d or host.endswith("." + d) for d in EMAIL_DOMAINS
        )
    # Usernames, P2P ids, payment handles and device ids have no reserved range;
    # they are synthetic by construction.
    return kind in ("username", "p2p_client_id", "payment_handle", "device_id")
