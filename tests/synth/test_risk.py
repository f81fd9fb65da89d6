"""Hidden risk, what reporters see of it, and the truth that states the ceilings."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import combinations

from tests.synth.conftest import read_lines
from veille.linking.normalise import IdentifierError, normalise_identifier
from veille.synth.config import RISK_FLAGS, load_config
from veille.synth.generator import SynthResult
from veille.synth.summaries import cue_sentences
from veille.synth.truth import (
    LEVELS,
    LINK_LEVELS,
    bcubed_recall_ceiling,
    evidence_clusters,
    observable_cases,
    pair_classes,
    read_cases,
    read_evidence,
)
from veille.vocab import IdentifierKind


def test_risk_is_hidden_and_flags_are_only_observations(effects_scenario: SynthResult) -> None:
    out = effects_scenario.out
    cases = {str(c["report"]): c for c in read_cases(out)}
    flags = {flag.value for flag in RISK_FLAGS.values()}
    flagged_ordinary, unflagged_cases = 0, 0
    for report in read_lines(out / "reports.jsonl"):
        risk_flags = set(report["flags"]) & flags  # type: ignore[arg-type]
        case = cases.get(str(report["external_id"]))
        if case is None:
            flagged_ordinary += bool(risk_flags - {"live_streaming"})
        else:
            unflagged_cases += not risk_flags
            assert sorted(risk_flags) == case["flags"]
    assert flagged_ordinary > 20  # false flags on ordinary reports
    assert unflagged_cases > 0.3 * len(cases)  # flags missed
    states = {state for case in cases.values() for state in case["risk"]}
    assert states == {"ongoing_access", "live_abuse", "self_harm"}


def test_plain_cues_are_in_the_summary_in_english_or_french(effects_scenario: SynthResult) -> None:
    out = effects_scenario.out
    summaries = {
        str(r["external_id"]): str(r["summary"]) for r in read_lines(out / "reports.jsonl")
    }
    plain = [c for c in read_cases(out) if c["text"] == "plain"]
    assert len(plain) > 50
    languages = set()
    for case in plain:
        summary = summaries[case["report"]]
        found = [
            language
            for state in case["risk"]
            for sentence in cue_sentences(state)
            for language, text in zip(("en", "fr"), sentence, strict=True)
            if text in summary
        ]
        assert found, summary
        languages.update(found)
    assert languages == {"en", "fr"}


def test_summaries_never_name_the_stream_or_the_planting(effects_scenario: SynthResult) -> None:
    words = {name.replace("_", " ") for name in load_config().streams} | {
        "synthetic",
        "planted",
        "offender",
        "viral",
    }
    for report in read_lines(effects_scenario.out / "reports.jsonl"):
        summary = str(report["summary"]).lower()
        assert not any(word in summary for word in words), summary


def test_cases_state_what_a_reader_could_see(effects_scenario: SynthResult) -> None:
    out = effects_scenario.out
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert truth["generator"]["version"] == 3
    cases = read_cases(out)
    seen = observable_cases(out)
    assert len(cases) == truth["counts"]["high_priority"] == len(truth["high_priority"])
    assert len(seen) == truth["counts"]["observable_cases"]
    assert 0.3 * len(cases) < len(seen) < len(cases)  # some cases show no cue at all
    for case in cases:
        expected = bool(case["flags"] or case["text"]) or (
            # A name alone (namesakes share it) or a shared address proves no link.
            case["linked"] is not None and case["linked"]["via"] in LINK_LEVELS
        )
        assert case["observable"] == expected
    assert any(c["linked"] and not c["flags"] and not c["text"] for c in seen)


def test_evidence_groups_follow_the_identifiers_in_the_reports(small_scenario: SynthResult) -> None:
    out = small_scenario.out
    keys: dict[str, set[tuple[str, str, str]]] = {}
    gateways = set(json.loads((out / "truth.json").read_text())["shared_ips"]["addresses"])
    for report in read_lines(out / "reports.jsonl"):
        found = set()
        for identifier in report["identifiers"]:  # type: ignore[attr-defined]
            kind, value = identifier["kind"], identifier["value"]
            if kind in ("url",) or value in gateways or value.startswith("198.1"):
                continue
            try:
                value = normalise_identifier(
                    IdentifierKind(kind), value, str(report["stated_country"])
                )
            except IdentifierError:
                continue
            found.add((kind, value, identifier.get("platform", "")))
        keys[str(report["external_id"])] = found
    pairs = 0
    for offender in read_evidence(out):
        exact = offender.groups["exact"]
        for (a, ga), (b, gb) in combinations(zip(offender.reports, exact, strict=True), 2):
            if keys[a] & keys[b]:
                pairs += 1
                assert ga == gb, (offender.offender, a, b)
    assert pairs > 100


def test_pair_classes_and_ceilings_add_up(small_scenario: SynthResult) -> None:
    out = small_scenario.out
    classes = pair_classes(out)
    per_offender: dict[str, int] = defaultdict(int)
    for link in read_lines(out / "truth/links.jsonl"):
        per_offender[str(link["offender"])] += 1
    assert sum(classes.values()) == sum(n * (n - 1) // 2 for n in per_offender.values())
    assert classes["exact"] > 0 and classes["variant"] > 0 and classes["person"] > 0
    assert classes["none"] > 0  # some pairs no reader can join
    ceilings = [bcubed_recall_ceiling(out, level) for level in LEVELS]
    assert ceilings == sorted(ceilings) and 0.5 < ceilings[0] < ceilings[-1] < 1.0
    clusters = evidence_clusters(out, "exact")
    assert set(clusters) == {str(link["report"]) for link in read_lines(out / "truth/links.jsonl")}


def test_own_files_and_shared_addresses_join_pairs_nothing_else_joins(
    effects_scenario: SynthResult,
) -> None:
    classes = pair_classes(effects_scenario.out)
    # Throwaway accounts leave only the offender's own files; leases only an address.
    assert classes["media"] > 20 and classes["address"] > 0
