"""The planted effects are measurable in the generated files, within noise."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pytest

from tests.synth.conftest import read_lines
from veille.synth.config import load_config
from veille.synth.generator import SynthResult


def _weekly_rates(result: SynthResult, keep: object) -> tuple[float, float, float]:
    """Reports per country-week before, during and in the 10 weeks after restrictions."""
    truth = json.loads((result.out / "truth.json").read_text(encoding="utf-8"))
    periods = {
        c["code"]: (
            date.fromisoformat(c["restrictions"]["start"]),
            date.fromisoformat(c["restrictions"]["end"]),
        )
        for c in truth["countries"]
    }
    counts: Counter[str] = Counter()
    for report in read_lines(result.out / "reports.jsonl"):
        if not keep(report):  # type: ignore[operator]
            continue
        start, end = periods[str(report["stated_country"])]
        day = datetime.fromisoformat(str(report["received_at"])).date()
        if date(2019, 3, 1) <= day < date(2020, 2, 1):
            counts["before"] += 1
        elif start <= day < end:
            counts["during"] += 1
        elif end <= day < end.replace(month=end.month + 2) if end.month <= 10 else False:
            counts["after"] += 1
    weeks_before = (date(2020, 2, 1) - date(2019, 3, 1)).days / 7 * len(periods)
    weeks_during = sum((end - start).days / 7 for start, end in periods.values())
    weeks_after = sum(
        (end.replace(month=end.month + 2) - end).days / 7
        for _, end in periods.values()
        if end.month <= 10
    )
    return (
        counts["before"] / weeks_before,
        counts["during"] / weeks_during,
        counts["after"] / max(weeks_after, 1),
    )


@lru_cache(maxsize=4)
def _streams(folder: Path) -> dict[str, str]:
    """Report id → the stream that made it (the truth: nothing in a report says so)."""
    return {str(r["report"]): str(r["stream"]) for r in read_lines(folder / "truth/reports.jsonl")}


def _stream(name: str, result: SynthResult) -> object:
    streams = _streams(result.out)

    def keep(report: dict[str, object]) -> bool:
        return streams[str(report["external_id"])] == name

    return keep


def test_peer_to_peer_rises_by_the_configured_factor(effects_scenario: SynthResult) -> None:
    factor = load_config().streams["p2p_sharing"].during
    before, during, _ = _weekly_rates(effects_scenario, _stream("p2p_sharing", effects_scenario))
    # Seasonality and growth move the ratio a little; noise a little more.
    assert during / before == pytest.approx(factor, rel=0.2)


def test_messaging_and_gaming_stay_stable(effects_scenario: SynthResult) -> None:
    for name in ("messaging", "online_gaming"):
        before, during, _ = _weekly_rates(effects_scenario, _stream(name, effects_scenario))
        assert during / before == pytest.approx(1.0, rel=0.25), name


def test_travelling_offenders_drop_then_resume(effects_scenario: SynthResult) -> None:
    before, during, after = _weekly_rates(
        effects_scenario, _stream("travelling_offender", effects_scenario)
    )
    assert during / before < 0.4
    assert after / before > 0.9


def test_domestic_abuse_reports_fall_then_catch_up(effects_scenario: SynthResult) -> None:
    before, during, after = _weekly_rates(
        effects_scenario, _stream("domestic_abuse", effects_scenario)
    )
    assert during / before < 0.8
    assert after / before > 1.2
    truth = json.loads((effects_scenario.out / "truth.json").read_text(encoding="utf-8"))
    domestic = next(e for e in truth["effects"] if e["stream"] == "domestic_abuse")
    assert domestic["true_incidence_factor_during"] == 1.3
    # Catch-up reports keep an incident time inside the restrictions.
    late = [
        r
        for r in read_lines(effects_scenario.out / "reports.jsonl")
        if _stream("domestic_abuse", effects_scenario)(r)  # type: ignore[operator]
        and (
            datetime.fromisoformat(str(r["received_at"]))
            - datetime.fromisoformat(str(r["incident_at"]))
        ).days
        > 30
    ]
    assert len(late) > 20


def test_video_conference_intrusions_are_at_most_five_per_country(
    effects_scenario: SynthResult,
) -> None:
    per_country = Counter(
        str(r["stated_country"])
        for r in read_lines(effects_scenario.out / "reports.jsonl")
        if r["platform_category"] == "video_conference"
    )
    assert per_country and max(per_country.values()) <= 5
    truth = json.loads((effects_scenario.out / "truth.json").read_text(encoding="utf-8"))
    assert truth["intrusions"]["per_country"] == dict(sorted(per_country.items()))


def test_sixty_percent_of_regular_users_stop_or_reduce(effects_scenario: SynthResult) -> None:
    truth = json.loads((effects_scenario.out / "truth.json").read_text(encoding="utf-8"))
    assert truth["usage"]["share_stopped_or_reduced"] == pytest.approx(0.6, abs=0.02)
    stopped = [a for a, b in truth["usage"]["behaviour"].items() if b == "stopped"]
    countries = {c["code"]: c["restrictions"] for c in truth["countries"]}
    events = read_lines(effects_scenario.out / "usage-events.jsonl")
    for agency in stopped[:5]:
        code = agency.split(" ", 1)[0] if agency[:2].isupper() and agency[2] == " " else "FR"
        start, end = countries[code]["start"], countries[code]["end"]
        during = [e for e in events if e["agency"] == agency and start <= str(e["at"])[:10] < end]
        assert during == []


def test_every_agency_s_events_show_its_planted_behaviour(effects_scenario: SynthResult) -> None:
    truth = json.loads((effects_scenario.out / "truth.json").read_text(encoding="utf-8"))
    countries = {c["code"]: c["restrictions"] for c in truth["countries"]}
    first = date.fromisoformat(truth["scenario"]["from"])
    first_monday = first - timedelta(days=first.weekday())
    events = read_lines(effects_scenario.out / "usage-events.jsonl")
    per_agency = Counter()
    for e in events:
        per_agency[(e["agency"], str(e["at"])[:10])] += 1
    for agency, behaviour in truth["usage"]["behaviour"].items():
        code = agency.split(" ", 1)[0] if agency[:2].isupper() and agency[2] == " " else "FR"
        start = date.fromisoformat(countries[code]["start"])
        end = date.fromisoformat(countries[code]["end"])
        before = sum(n for (a, day), n in per_agency.items() if a == agency and day < str(start))
        during = sum(
            n for (a, day), n in per_agency.items() if a == agency and str(start) <= day < str(end)
        )
        rate_before = before / ((start - first_monday).days / 7)
        rate_during = during / ((end - start).days / 7)
        if behaviour == "stopped":
            assert during == 0, agency
        elif behaviour == "reduced":
            assert 0 < rate_during <= 0.4 * rate_before, agency
        else:
            assert rate_during >= 0.6 * rate_before, agency


def test_takedowns_take_longer_during_restrictions(effects_scenario: SynthResult) -> None:
    truth = json.loads((effects_scenario.out / "truth.json").read_text(encoding="utf-8"))
    hours = truth["takedowns"]["median_hours"]
    assert hours["during"] > 1.8 * hours["before"]


def test_versions_sit_at_realistic_distances(effects_scenario: SynthResult) -> None:
    transforms = load_config().media.transforms
    media = read_lines(effects_scenario.out / "truth/media.jsonl")
    versions = [
        m for m in media if m["status"] == "new_version" and m.get("distance_bits") is not None
    ]
    assert len(versions) > 500
    for item in versions:
        low, high = (
            transforms[str(item["transform"])].bits if item["transform"] in transforms else (0, 256)
        )
        if "wave" not in item:
            assert low - 1 <= int(item["distance_bits"]) <= high + 1  # type: ignore[arg-type]
    # Viral waves: one item reported by many distinct users.
    by_wave = Counter(str(m["wave"]) for m in media if "wave" in m)
    assert by_wave and max(by_wave.values()) >= 100


def test_pdq_hashes_have_128_one_bits(effects_scenario: SynthResult) -> None:
    checked = 0
    for report in read_lines(effects_scenario.out / "reports.jsonl")[:2000]:
        for item in report["media"]:  # type: ignore[attr-defined]
            if item.get("pdq") and not str(item.get("file_name", "")).startswith("media/"):
                assert int(item["pdq"], 16).bit_count() == 128
                checked += 1
    assert checked > 500
