"""Normalise identifiers so that one account always has one spelling.

Two reports link only if their identifiers are equal after normalisation, so
each rule here decides what counts as "the same account": case, provider
aliases, E.164 phones, canonical IP text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import phonenumbers

from veille.vocab import IdentifierKind


class IdentifierError(ValueError):
    """An identifier value that cannot be normalised."""


# Providers whose mailboxes ignore dots in the local part and/or take "+tag"
# sub-addresses; folding them makes aliases of one mailbox one identifier.
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
_PLUS_TAG_DOMAINS = {
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "protonmail.com",
    "proton.me",
    "icloud.com",
    "fastmail.com",
}
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_email(value: str) -> str:
    """Lower-case address with provider aliases folded (``J.Doe+x@Gmail.com`` → ``jdoe@gmail.com``)."""
    text = value.strip()
    if not _EMAIL_RE.match(text):
        raise IdentifierError(f"{value!r} is not an e-mail address (expected local@domain.tld)")
    local, domain = text.rsplit("@", 1)
    try:
        domain = domain.lower().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError as error:
        raise IdentifierError(f"{value!r} has an invalid domain: {error}") from None
    if not all(_DOMAIN_LABEL_RE.match(label) for label in domain.split(".")):
        raise IdentifierError(f"{value!r} has an invalid domain {domain!r}")
    local = local.lower()
    domain = _DOTLESS_DOMAINS.get(domain, domain)
    if domain in _PLUS_TAG_DOMAINS and "+" in local:
        local = local.split("+", 1)[0]
    if domain == "gmail.com":
        local = local.replace(".", "")
    if not local:
        raise IdentifierError(f"{value!r} has an empty local part")
    return f"{local}@{domain}"


@lru_cache(maxsize=65_536)
def normalise_phone(value: str, region: str | None = None) -> str:
    """E.164 form of a phone number; ``region`` (alpha-2) resolves national formats.

    Numbers only need to be *possible* (right length for the country), not
    allocated: fictional test ranges must pass, typing errors must not.
    """
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        hint = "" if region else " (give it in international form, +CC...)"
        raise IdentifierError(f"{value!r} is not a phone number: {error}{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise IdentifierError(f"{value!r} is not a possible phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65_536)
def phone_country(e164: str) -> str | None:
    """The alpha-2 region a phone number belongs to, if it can be told."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    if number.country_code is None:
        return None
    regions = phonenumbers.region_codes_for_country_code(number.country_code)
    if len(regions) == 1:
        region = regions[0]
    else:
        # Shared calling codes (+1, +44, +7...) need the full lookup; fictional
        # ranges are not "valid" numbers, so fall back on the main region.
        region = phonenumbers.region_code_for_number(number) or (
            phonenumbers.region_code_for_country_code(number.country_code)
        )
    return region if region and region not in ("ZZ", "001") else None


def normalise_ip(value: str) -> str:
    """Canonical text of an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4)."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise IdentifierError(f"{value!r} is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.compressed


def normalise_username(value: str) -> str:
    """Handle without a leading ``@``, lower-cased (platforms treat handles case-insensitively)."""
    text = value.strip().lstrip("@").strip().lower()
    if not text:
        raise IdentifierError("empty username")
    return text


def normalise_url(value: str) -> str:
    """URL with lower-case scheme and host, default port and fragment removed."""
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
    except ValueError as error:
        raise IdentifierError(f"{value!r} is not a URL: {error}") from None
    if not hostname:
        raise IdentifierError(f"{value!r} is not a URL (no host)")
    host = hostname.lower()
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    try:
        port = parts.port
    except ValueError:
        raise IdentifierError(f"{value!r} has an invalid port") from None
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    path = parts.path if parts.path not in ("", "/") else ""
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


def normalise_token(value: str) -> str:
    """Trimmed, lower-cased opaque token (payment handles, device ids)."""
    text = value.strip().lower()
    if not text:
        raise IdentifierError("empty identifier")
    return text


def normalise_p2p_client_id(value: str) -> str:
    """Client GUIDs without braces or dashes, upper-case hex."""
    text = value.strip().strip("{}").replace("-", "").upper()
    if not text or not re.fullmatch(r"[0-9A-Z]+", text):
        raise IdentifierError(f"{value!r} is not a P2P client id (expected hex/alphanumeric)")
    return text


_NORMALISERS: dict[IdentifierKind, Callable[[str], str]] = {
    IdentifierKind.EMAIL: normalise_email,
    IdentifierKind.IP: normalise_ip,
    IdentifierKind.USERNAME: normalise_username,
    IdentifierKind.URL: normalise_url,
    IdentifierKind.P2P_CLIENT_ID: normalise_p2p_client_id,
    IdentifierKind.PAYMENT_HANDLE: normalise_token,
    IdentifierKind.DEVICE_ID: normalise_token,
}


@lru_cache(maxsize=262_144)
def normalise_identifier(kind: IdentifierKind, value: str, region: str | None = None) -> str:
    """The normalised value of an identifier of ``kind``; ``region`` helps with phones.

    Cached: the same accounts recur across thousands of reports in bulk imports.
    """
    if len(value) > 500:
        raise IdentifierError(f"{kind.value} longer than 500 characters")
    if kind is IdentifierKind.PHONE:
        return normalise_phone(value, region)
    return _NORMALISERS[kind](value)
