"""Identifier normalisers: idempotent, canonical, and strict about garbage."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veille.linking.normalise import (
    IdentifierError,
    normalise_email,
    normalise_identifier,
    normalise_ip,
    normalise_phone,
    normalise_url,
    phone_country,
)
from veille.vocab import IdentifierKind

local_parts = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,20}", fullmatch=True)
domains = st.sampled_from(
    ["example.com", "Example.ORG", "EXAMPLE.net", "gmail.com", "GoogleMail.com"]
)


@given(local_parts, domains)
def test_email_normalisation_is_idempotent_and_lower_case(local: str, domain: str) -> None:
    try:
        once = normalise_email(f"{local}@{domain}")
    except IdentifierError:
        return
    assert normalise_email(once) == once
    assert once == once.lower()


def test_gmail_aliases_fold_to_one_mailbox() -> None:
    assert normalise_email("J.Doe+tips@GoogleMail.com") == "jdoe@gmail.com"
    assert normalise_email("j.doe+x@example.com") == "j.doe+x@example.com"


@pytest.mark.parametrize(
    "bad", ["plain", "a@b", "@example.com", "a@@example.com", "a@exa mple.com"]
)
def test_bad_emails_are_refused(bad: str) -> None:
    with pytest.raises(IdentifierError):
        normalise_email(bad)


@given(st.integers(min_value=0, max_value=999))
def test_fictional_uk_numbers_become_e164_in_any_spelling(suffix: int) -> None:
    e164 = f"+447700900{suffix:03d}"
    spellings = [
        e164,
        f"07700 900{suffix:03d}",
        f"+44 (0)7700-900-{suffix:03d}",
        f"0044 7700 900 {suffix:03d}",
    ]
    assert {normalise_phone(s, "GB") for s in spellings} == {e164}
    assert phone_country(e164) == "GB"


@pytest.mark.parametrize("bad", ["12", "not a number", "+33 12", "+999 1234"])
def test_impossible_phone_numbers_are_refused(bad: str) -> None:
    with pytest.raises(IdentifierError):
        normalise_phone(bad, "FR")


@given(st.ip_addresses())
def test_ip_normalisation_round_trips(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    text = normalise_ip(str(address))
    assert ipaddress.ip_address(text) == address or (
        isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None
    )
    assert normalise_ip(text) == text


def test_ipv4_mapped_ipv6_is_the_ipv4_address() -> None:
    assert normalise_ip("::ffff:192.0.2.7") == "192.0.2.7"
    assert normalise_ip(" 2001:DB8::0001 ") == "2001:db8::1"
    with pytest.raises(IdentifierError):
        normalise_ip("192.0.2.300")


def test_urls_lose_default_ports_and_fragments() -> None:
    assert (
        normalise_url("HTTPS://Files.Example.com:443/a/B#frag") == "https://files.example.com/a/B"
    )
    assert normalise_url("example.org") == "http://example.org"


def test_every_identifier_kind_has_a_normaliser() -> None:
    samples = {
        IdentifierKind.EMAIL: "a@example.com",
        IdentifierKind.PHONE: "+447700900001",
        IdentifierKind.IP: "198.51.100.1",
        IdentifierKind.USERNAME: "@Name",
        IdentifierKind.P2P_CLIENT_ID: "{ab-12}",
        IdentifierKind.PAYMENT_HANDLE: " $Pay ",
        IdentifierKind.URL: "example.com/x",
        IdentifierKind.DEVICE_ID: "DEV-1",
    }
    assert set(samples) == set(IdentifierKind)
    assert {k: normalise_identifier(k, v) for k, v in samples.items()}[
        IdentifierKind.P2P_CLIENT_ID
    ] == "AB12"


@pytest.mark.parametrize("bad", ["[", "http://[::1", "http://", "https://example.com:99999/"])
def test_malformed_urls_raise_identifier_errors(bad: str) -> None:
    with pytest.raises(IdentifierError):
        normalise_url(bad)
