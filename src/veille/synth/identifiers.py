"""Synthetic identifiers, all inside reserved or fictional ranges, and the check for it.

E-mails use the example domains (RFC 2606), IP addresses the documentation
ranges (RFC 5737, RFC 3849), phones the ranges regulators set aside for
fiction (Ofcom, ARCEP, NANP 555-01xx, ACMA), URLs the ``.example`` TLD.
Values embed a counter, so two persons never share an identifier by chance:
every link in the scenario is planted on purpose.
"""

from __future__ import annotations

import ipaddress
import random
import re

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
IPV4_DOCUMENTATION = tuple(
    ipaddress.ip_network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
IPV6_DOCUMENTATION = ipaddress.ip_network("2001:db8::/32")

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


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text


class IdentifierFactory:
    """Makes unique synthetic identifiers from a word pool and counters."""

    def __init__(self, rng: random.Random, words: list[str]) -> None:
        self.rng = rng
        self.words = words
        self.counter = 0
        self.phone_orders: dict[str, list[int]] = {}
        self.phone_next: dict[str, int] = {}

    def _next(self) -> str:
        self.counter += 1
        return _base36(self.counter * 7919 + 104_729)

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
        # Every group is non-zero, so this is already the canonical (compressed) text.
        count = self.counter
        groups = (
            self.rng.randrange(1, 0x10000),
            count // 0xFFFF**2 % 0xFFFF + 1,
            count // 0xFFFF % 0xFFFF + 1,
            count % 0xFFFF + 1,
            self.rng.randrange(1, 0x10000),
            self.rng.randrange(1, 0x10000),
        )
        return "2001:db8:" + ":".join(f"{g:x}" for g in groups)

    def shared_ipv4(self, count: int) -> list[str]:
        """``count`` addresses of the documentation ranges, used as shared (CGNAT) addresses."""
        pool = [str(net.network_address + host) for net in IPV4_DOCUMENTATION for host in (10, 77)]
        extra = [str(IPV4_DOCUMENTATION[1].network_address + host) for host in range(100, 250)]
        return (pool + extra)[:count]

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
        if country not in self.phone_orders:
            capacity = sum(10**digits for _, digits in blocks)
            order = list(range(capacity))
            self.rng.shuffle(order)
            self.phone_orders[country] = order
            self.phone_next[country] = 0
        position = self.phone_next[country]
        order = self.phone_orders[country]
        if position >= len(order):
            return None
        self.phone_next[country] = position + 1
        slot = order[position]
        for prefix, digits in blocks:
            if slot < 10**digits:
                return f"{prefix}{slot:0{digits}d}"
            slot -= 10**digits
        return None

    def url(self, domain: str) -> str:
        """A page on a ``.example`` host."""
        return f"https://{domain}/p/{self._next()}{self.rng.getrandbits(30):x}"


def is_reserved(kind: str, value: str) -> bool:
    """Whether a generated identifier stays inside the reserved and fictional ranges."""
    if kind == "email":
        domain = value.rsplit("@", 1)[-1]
        return domain.endswith(".example") or any(
            domain == d or domain.endswith("." + d) for d in EMAIL_DOMAINS
        )
    if kind == "ip":
        address = ipaddress.ip_address(value)
        if address.version == 4:
            return any(address in net for net in IPV4_DOCUMENTATION)
        return address in IPV6_DOCUMENTATION
    if kind == "phone":
        return bool(_US_FICTION.match(value)) or any(p.match(value) for p in _PHONE_PATTERNS)
    if kind == "url":
        host = value.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        return host.endswith(".example") or any(
            host == d or host.endswith("." + d) for d in EMAIL_DOMAINS
        )
    # Usernames, P2P ids, payment handles and device ids have no reserved range;
    # they are synthetic by construction.
    return kind in ("username", "p2p_client_id", "payment_handle", "device_id")
