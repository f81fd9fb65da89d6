"""The noisy world: identifier noise, shared addresses, named suspects, re-posts, values without tells."""

from __future__ import annotations

import ipaddress
import json
import random
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.synth.conftest import read_lines
from veille.linking.normalise import normalise_identifier
from veille.synth.config import ScenarioConfigError, load_config
from veille.synth.generator import SynthResult
from veille.synth.identifiers import DYNAMIC_POOL, PHONE_BLOCKS, IdentifierFactory, KeyedPermutation
from veille.synth.noise import (
    email_case,
    email_variant,
    phone_format,
    phone_typo,
    transliterate,
    username_case,
    username_variant,
)
from veille.vocab import IdentifierKind


@pytest.mark.parametrize("size", [2, 3, 1000, 4099])
def test_keyed_permutation_is_a_bijection_that_hides_the_order(size: int) -> None:
    permutation = KeyedPermutation(key=42, size=size)
    images = [permutation.permute(i) for i in range(size)]
    assert sorted(images) == list(range(size))
    if size >= 1000:
        # The first tenth of the indexes lands all over the range, not at its start.
        early = images[: size // 10]
        assert max(early) > 0.8 * size and min(early) < 0.2 * size
    assert [KeyedPermutation(key=43, size=size).permute(i) for i in range(size)] != images or (
        size <= 3
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    country=st.sampled_from(sorted(PHONE_BLOCKS)),
)
def test_written_variants_normalise_as_documented(seed: int, country: str) -> None:
    rng = random.Random(seed)
    factory = IdentifierFactory(rng, ["amber", "fox", "river"], key=seed)
    phone = factory.phone(country)
    assert phone is not None
    email = factory.email()
    handle = factory.username()
    # Absorbed by the import normalisation: the same identifier.
    assert (
        normalise_identifier(IdentifierKind.PHONE, phone_format(phone, country, rng), country)
        == phone
    )
    assert normalise_identifier(IdentifierKind.EMAIL, email_case(email, rng)) == email
    assert normalise_identifier(IdentifierKind.USERNAME, username_case(handle, rng)) == handle
    # Not absorbed: another value, still in the reserved ranges.
    typo = phone_typo(phone, rng)
    assert typo != phone and typo[:-2] == phone[:-2]
    assert normalise_identifier(IdentifierKind.EMAIL, email_variant(email, rng)) != email
    assert normalise_identifier(IdentifierKind.USERNAME, username_variant(handle, rng)) != handle


def test_transliteration_changes_the_spelling() -> None:
    assert transliterate("Müller") == "Mueller"
    assert transliterate("Philippe") == "Filippe"
    assert transliterate("Łukasz") != "Łukasz"


def test_values_do_not_tell_planted_offenders_from_anyone_else(
    small_scenario: SynthResult,
) -> None:
    offenders = read_lines(small_scenario.out / "truth/offenders.jsonl")
    planted = {ip for o in offenders for ip in o["identifiers"]["ips"]}  # type: ignore[index]

    def drawn(address: str) -> float:
        groups = [int(g, 16) - 1 for g in address.split(":")[3:6]]
        return (groups[0] * 0xFFFF**2 + groups[1] * 0xFFFF + groups[2]) / 0xFFFF**3

    mine, others = [], []
    for report in read_lines(small_scenario.out / "reports.jsonl"):
        for identifier in report["identifiers"]:  # type: ignore[attr-defined]
            value = identifier["value"]
            if identifier["kind"] == "ip" and ":" in value:
                (mine if value in planted else others).append(drawn(value))
    assert len(mine) > 50 and len(others) > 50
    top = max(mine + others)
    for values in (mine, others):
        values.sort()
        # Both spread evenly over the same range: a counter would put the planted ones first.
        assert 0.3 < values[len(values) // 2] / top < 0.7


def test_gateways_stay_in_one_country_and_dynamic_addresses_change_hands(
    small_scenario: SynthResult,
) -> None:
    truth = json.loads((small_scenario.out / "truth.json").read_text(encoding="utf-8"))
    gateways = {
        entry["address"]: country
        for country, entries in truth["shared_ips"]["gateways"].items()
        for entry in entries
    }
    assert len(gateways) == len(truth["shared_ips"]["addresses"]) >= 100
    subject = {
        str(link["report"]): str(link["offender"])
        for link in read_lines(small_scenario.out / "truth/links.jsonl")
    }
    holders: dict[str, set[str]] = defaultdict(set)
    gateway_countries: dict[str, set[str]] = defaultdict(set)
    for report in read_lines(small_scenario.out / "reports.jsonl"):
        report_id = str(report["external_id"])
        for identifier in report["identifiers"]:  # type: ignore[attr-defined]
            if identifier["kind"] != "ip" or ":" in identifier["value"]:
                continue
            address = ipaddress.ip_address(identifier["value"])
            if address in DYNAMIC_POOL:
                holders[str(address)].add(subject.get(report_id, report_id))
            else:
                assert str(address) in gateways
                gateway_countries[str(address)].add(str(report["stated_country"]))
    assert gateway_countries and all(len(c) == 1 for c in gateway_countries.values())
    assert all(gateways[a] in c for a, c in gateway_countries.items())
    # One dynamic address, several subscribers over the period.
    assert sum(1 for h in holders.values() if len(h) >= 2) > 20


def test_offline_reports_name_suspects_with_homonyms_among_innocents(
    small_scenario: SynthResult,
) -> None:
    offenders = {str(o["id"]): o for o in read_lines(small_scenario.out / "truth/offenders.jsonl")}
    links = {
        str(link["report"]): link for link in read_lines(small_scenario.out / "truth/links.jsonl")
    }
    names = {
        (o["person"]["given_name"], o["person"]["family_name"])  # type: ignore[index]
        for o in offenders.values()
        if "person" in o
    }
    named_offender, homonyms = 0, 0
    for report in read_lines(small_scenario.out / "reports.jsonl"):
        if report["platform_category"] != "offline":
            continue
        summary = str(report["summary"])
        link = links.get(str(report["external_id"]))
        if link is not None and link.get("named") == "exact":
            person = offenders[str(link["offender"])]["person"]
            assert f"{person['given_name']} {person['family_name']}" in summary  # type: ignore[index]
            named_offender += 1
        elif link is None and any(f"{g} {f}" in summary for g, f in names):
            homonyms += 1
    assert named_offender > 20
    assert homonyms >= 1


def test_producing_offenders_re_post_their_own_files(effects_scenario: SynthResult) -> None:
    offender_of = {
        str(link["report"]): str(link["offender"])
        for link in read_lines(effects_scenario.out / "truth/links.jsonl")
    }
    reports_of_cluster: dict[str, set[str]] = defaultdict(set)
    for item in read_lines(effects_scenario.out / "truth/media.jsonl"):
        if item["status"] == "new" and "wave" not in item:
            reports_of_cluster[str(item["cluster"])].add(str(item["report"]))
    again = [
        reports
        for reports in reports_of_cluster.values()
        if len(reports) >= 2
        and len({offender_of.get(r) for r in reports} - {None}) == 1
        and all(r in offender_of for r in reports)
    ]
    assert len(again) >= 5
    evidence = [
        link
        for link in read_lines(effects_scenario.out / "truth/links.jsonl")
        if "media" in link["evidence"]  # type: ignore[operator]
    ]
    assert evidence


def test_noise_settings_are_checked_with_their_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("risk: {self_harm: {no_such_stream: 0.1}}\n", encoding="utf-8")
    with pytest.raises(ScenarioConfigError, match=r"risk\.self_harm"):
        load_config(path)
    path.write_text("observation: {flag_recall: {ongoing_access: 1.5}}\n", encoding="utf-8")
    with pytest.raises(ScenarioConfigError, match="observation"):
        load_config(path)
    path.write_text("addresses: {dynamic_pool_per_country: 4096}\n", encoding="utf-8")
    with pytest.raises(ScenarioConfigError, match=r"addresses\.dynamic_pool_per_country"):
        load_config(path)
