"""The stop-list: identifiers too common to link reports on.

One public address of a large provider, a proxy exit or a carrier-grade NAT
range is carried by thousands of unrelated reports; linking on it would merge
them into one meaningless case. Like a warning list, entries are exact keys
(``ip:203.0.113.7``, ``email:noreply@example.com``) or IP networks, and
identifiers seen in more reports or agencies than a limit are added
automatically when linking runs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from veille.linking.models import StopEntry
from veille.linking.normalise import IdentifierError, normalise_identifier
from veille.linking.profiles import linking_key
from veille.store.sql import among
from veille.vocab import IdentifierKind, values

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges that never identify one subscriber: CGNAT (RFC 6598), private,
# loopback, link-local and unspecified. Documentation ranges are *not* here:
# they stand for real public addresses in tests and synthetic data.
BUILTIN_NETWORKS: tuple[tuple[str, str], ...] = (
    ("100.64.0.0/10", "carrier-grade NAT (RFC 6598): shared by many subscribers"),
    ("10.0.0.0/8", "private network (RFC 1918)"),
    ("172.16.0.0/12", "private network (RFC 1918)"),
    ("192.168.0.0/16", "private network (RFC 1918)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("0.0.0.0/8", "unspecified"),
    ("::1/128", "loopback"),
    ("fc00::/7", "unique local IPv6"),
    ("fe80::/10", "link-local IPv6"),
)


class StopListError(ValueError):
    """A stop-list entry that cannot be understood."""


@dataclass(frozen=True)
class LinkLimits:
    """When an identifier becomes too common to link on."""

    # One busy offender is one account behind many reports: 110 reports of one
    # peer-to-peer client id at four agencies are one person. A value shared
    # by unrelated people spreads over agencies (max_agencies_per_key) or, for
    # an address, over accounts and countries; the report count only bounds
    # the work a single key can bring into one cluster.
    max_reports_per_key: int = 1000
    max_agencies_per_key: int = 10
    # An address belongs to one network in one country; reports placing it in
    # more countries than this point to a VPN exit, proxy or shared gateway.
    # Only countries located from the address count (given by the sender, or
    # derived from the address), never a stated country or a phone's.
    max_countries_per_ip: int = 2
    # An address or device behind more unrelated accounts than this is shared
    # (a gateway, public Wi-Fi, a dynamic address that changed hands, a
    # household's device); one busy offender is one account behind many reports.
    max_accounts_per_address: int = 1
    # Known content is shared by many unrelated people; only content seen in
    # very few reports (a new image passed between two accounts) links them.
    max_reports_per_content: int = 3

    def __post_init__(self) -> None:
        if self.max_reports_per_key < 2:
            raise StopListError("max_reports_per_key: expected an integer of at least 2")
        if self.max_agencies_per_key < 1:
            raise StopListError("max_agencies_per_key: expected an integer of at least 1")
        if self.max_reports_per_content < 1:
            raise StopListError("max_reports_per_content: expected an integer of at least 1")
        if self.max_countries_per_ip < 1:
            raise StopListError("max_countries_per_ip: expected an integer of at least 1")
        if self.max_accounts_per_address < 1:
            raise StopListError("max_accounts_per_address: expected an integer of at least 1")


@dataclass
class StopList:
    """Exact keys and networks not to link on, loaded once per linking run."""

    keys: dict[str, str] = field(default_factory=dict)
    networks: list[tuple[IPNetwork, str]] = field(default_factory=list)
    _network_reasons: dict[str, str | None] = field(default_factory=dict, repr=False)

    def reason(self, key: str) -> str | None:
        """Why ``key`` is not linked on, or ``None`` if it may be."""
        found = self.keys.get(key)
        if found is not None or not key.startswith("ip:") or not self.networks:
            return found
        if key not in self._network_reasons:
            if len(self._network_reasons) > 1_000_000:
                self._network_reasons.clear()
            self._network_reasons[key] = self._in_network(key)
        return self._network_reasons[key]

    def _in_network(self, key: str) -> str | None:
        try:
            address = ipaddress.ip_address(key[3:])
        except ValueError:
            return None
        for network, why in self.networks:
            if address.version == network.version and address in network:
                return f"in {network} ({why})"
        return None


def parse_stop_key(text: str) -> tuple[str, bool]:
    """The linking key of an entry typed by a person; returns (key, is_network).

    Forms: ``ip:ADDRESS``, ``ip:NETWORK/PREFIX``, ``KIND:VALUE`` for the other
    identifier kinds (normalised as at import), ``username:PLATFORM:HANDLE``
    and ``content:CLUSTER_ID``.
    """
    kind, _, value = text.strip().partition(":")
    value = value.strip()
    if not value:
        raise StopListError(
            f"{text!r}: expected KIND:VALUE, e.g. ip:203.0.113.7, ip:100.64.0.0/10, "
            "email:noreply@example.com, username:PLATFORM:HANDLE or content:ID"
        )
    if kind == "ip" and "/" in value:
        try:
            return f"ip:{ipaddress.ip_network(value, strict=False).compressed}", True
        except ValueError:
            raise StopListError(f"{text!r}: {value!r} is not an IP network") from None
    if kind == "content":
        if not value.isdigit():
            raise StopListError(f"{text!r}: expected content:CLUSTER_ID with a numeric id")
        return f"content:{int(value)}", False
    try:
        identifier_kind = IdentifierKind(kind)
    except ValueError:
        allowed = ", ".join([*values(IdentifierKind), "content"])
        raise StopListError(f"{text!r}: kind {kind!r} is not one of {allowed}") from None
    platform = ""
    if identifier_kind in (IdentifierKind.USERNAME, IdentifierKind.PAYMENT_HANDLE):
        platform, _, handle = value.rpartition(":")
        value = handle
    try:
        normalised = normalise_identifier(identifier_kind, value)
    except IdentifierError as error:
        raise StopListError(f"{text!r}: {error}") from None
    return linking_key(identifier_kind, normalised, platform), False


def load_stop_list(session: Session) -> StopList:
    """The built-in networks plus every stored entry."""
    stop = StopList()
    for text, why in BUILTIN_NETWORKS:
        stop.networks.append((ipaddress.ip_network(text), why))
    for entry in session.scalars(select(StopEntry)):
        if entry.is_network:
            stop.networks.append((ipaddress.ip_network(entry.key[3:]), entry.reason))
        else:
            stop.keys[entry.key] = entry.reason
    return stop


def add_stop_entries(
    session: Session,
    entries: Mapping[str, tuple[str, int | None]],
    *,
    actor: str,
    source: str = "manual",
) -> int:
    """Store entries (linking key → (reason, report count)); returns how many were new."""
    if not entries:
        return 0
    existing: set[str] = set()
    keys = sorted(entries)
    for start in range(0, len(keys), 900):
        existing.update(
            session.scalars(
                select(StopEntry.key).where(among(StopEntry.key, keys[start : start + 900]))
            )
        )
    rows = [
        {
            "key": key,
            "is_network": key.startswith("ip:") and "/" in key,
            "reason": reason[:500],
            "source": source,
            "report_count": count,
            "added_by": actor,
        }
        for key, (reason, count) in entries.items()
        if key not in existing
    ]
    if rows:
        session.execute(insert(StopEntry), rows)
    return len(rows)


def remove_stop_entry(session: Session, key: str) -> bool:
    """Remove one stored entry; returns whether it existed. Built-in networks stay."""
    normalised, _ = parse_stop_key(key)
    result = session.execute(delete(StopEntry).where(StopEntry.key == normalised))
    return bool(getattr(result, "rowcount", 0))


def list_stop_entries(session: Session) -> list[dict[str, object]]:
    """Built-in networks then stored entries, for display."""
    rows: list[dict[str, object]] = [
        {"key": f"ip:{text}", "source": "builtin", "reason": why, "report_count": None}
        for text, why in BUILTIN_NETWORKS
    ]
    for entry in session.scalars(select(StopEntry).order_by(StopEntry.source, StopEntry.key)):
        rows.append(
            {
                "key": entry.key,
                "source": entry.source,
                "reason": entry.reason,
                "report_count": entry.report_count,
            }
        )
    return rows
