"""No generated identifier leaves the reserved and fictional ranges."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.synth.conftest import read_lines
from veille.linking.normalise import normalise_identifier, phone_country
from veille.synth.generator import SynthResult
from veille.synth.identifiers import PHONE_BLOCKS, IdentifierFactory, is_reserved
from veille.vocab import IdentifierKind


def test_every_identifier_in_the_reports_is_reserved(small_scenario: SynthResult) -> None:
    kinds: set[str] = set()
    for report in read_lines(small_scenario.out / "reports.jsonl"):
        for identifier in report["identifiers"]:  # type: ignore[attr-defined]
            kinds.add(identifier["kind"])
            value = identifier["value"]
            if identifier["kind"] == "phone":  # written as people write them: E.164 first
                value = normalise_identifier(
                    IdentifierKind.PHONE, value, str(report["stated_country"])
                )
            assert is_reserved(identifier["kind"], value), identifier
    assert {"email", "ip", "phone", "username", "p2p_client_id", "url", "device_id"} <= kinds


def test_contacts_and_urls_outside_reports_are_reserved(small_scenario: SynthResult) -> None:
    for agency in read_lines(small_scenario.out / "agencies.jsonl"):
        assert is_reserved("email", str(agency["contact"]))
    for notice in read_lines(small_scenario.out / "takedowns.jsonl"):
        assert is_reserved("url", str(notice["url"]))


def test_reserved_check_refuses_real_looking_values() -> None:
    assert not is_reserved("email", "someone@gmail.com")
    assert not is_reserved("ip", "8.8.8.8")
    assert not is_reserved("ip", "2001:4860::8888")
    assert not is_reserved("phone", "+33612345678")
    assert not is_reserved("phone", "+12125551234")
    assert not is_reserved("url", "https://www.example-shop.com/x")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_factory_values_are_reserved_unique_and_normalisable(seed: int) -> None:
    factory = IdentifierFactory(random.Random(seed), ["amber", "fox", "river", "stone"])
    values: dict[str, list[str]] = {"email": [], "ip": [], "username": [], "phone": []}
    for _ in range(40):
        values["email"].append(factory.email())
        values["ip"].append(factory.ipv6())
        values["username"].append(factory.username())
        for country in PHONE_BLOCKS:
            phone = factory.phone(country)
            assert phone is not None
            assert phone_country(phone) in (country, None)
            values["phone"].append(phone)
    for kind, items in values.items():
        assert len(set(items)) == len(items), kind
        for item in items:
            assert is_reserved(kind, item), item
            assert normalise_identifier(IdentifierKind(kind), item) == item.lower() or kind == "ip"


def test_fictional_phone_blocks_run_out_instead_of_repeating() -> None:
    factory = IdentifierFactory(random.Random(1), ["a"])
    capacity = sum(10**digits for _, digits in PHONE_BLOCKS["GB"])
    numbers = [factory.phone("GB") for _ in range(capacity)]
    assert len(set(numbers)) == capacity
    assert factory.phone("GB") is None
    assert factory.phone("DE") is None  # no fictional range known: no phone at all
