"""Scores with reasons; re-scoring when a match or a link arrives."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.linking.helpers import email, import_records, make_world, record
from veille.linking.engine import link_reports
from veille.store.db import Database
from veille.triage.models import TriageScore
from veille.triage.policy import BANDS, default_policy
from veille.triage.scoring import due_time, evaluate, rescore_reports, score_reports
from veille.triage.signals import ReportSignals

NOW = datetime(2020, 4, 20, 12, tzinfo=UTC)


def signals(**overrides: Any) -> ReportSignals:
    values: dict[str, Any] = {
        "report_id": 1,
        "owner_agency_id": 1,
        "received_at": NOW - timedelta(days=1),
        "incident_at": None,
        "flags": frozenset(),
        "offences": frozenset({"csam_possession"}),
    }
    values.update(overrides)
    return ReportSignals(**values)


def test_hands_on_abuse_with_ongoing_access_is_p1_with_its_reasons() -> None:
    result = evaluate(
        default_policy(),
        signals(flags=frozenset({"ongoing_access"}), offences=frozenset({"contact_abuse"})),
        NOW,
    )
    assert result.band == "P1"
    contributions = {reason.factor: reason.contribution for reason in result.reasons}
    assert contributions == {"hands_on_abuse": 40, "ongoing_access": 35, "recency": 10}
    assert result.score == 85
    assert result.reasons[0].factor == "hands_on_abuse"
    assert result.reasons[0].detail == "contact_abuse"


def test_known_viral_content_with_no_other_signal_is_lowered() -> None:
    viral = evaluate(default_policy(), signals(flags=frozenset({"viral"})), NOW)
    assert [r.factor for r in viral.reasons] == ["known_viral_only", "recency"]
    assert viral.score == -5
    assert viral.band == "P4"
    # With a real signal, viral content is not penalised.
    grooming = evaluate(
        default_policy(), signals(flags=frozenset({"viral"}), offences=frozenset({"grooming"})), NOW
    )
    assert "known_viral_only" not in {r.factor for r in grooming.reasons}


def test_recency_fades_between_full_and_zero_days() -> None:
    policy = default_policy()
    old = evaluate(policy, signals(received_at=NOW - timedelta(days=400)), NOW)
    mid = evaluate(policy, signals(received_at=NOW - timedelta(days=93.5)), NOW)
    assert "recency" not in {r.factor for r in old.reasons}
    assert [r.contribution for r in mid.reasons if r.factor == "recency"] == [5.0]


@given(
    st.sets(
        st.sampled_from(
            [
                "ongoing_access",
                "hands_on_abuse",
                "live_streaming",
                "infant_victim",
                "self_harm_threat",
                "domestic_setting",
                "viral",
                "escalated",
            ]
        )
    ),
    st.sets(st.sampled_from(["grooming", "sextortion", "csam_production", "contact_abuse"])),
    st.integers(min_value=0, max_value=500),
)
# The first example pays for loading the policy; under a loaded machine that is over 200 ms.
@settings(deadline=None)
def test_a_score_is_the_sum_of_its_reasons_and_its_band_fits(
    flags: set[str], offences: set[str], age_days: int
) -> None:
    policy = default_policy()
    result = evaluate(
        policy,
        signals(
            flags=frozenset(flags),
            offences=frozenset(offences),
            received_at=NOW - timedelta(days=age_days),
        ),
        NOW,
    )
    assert abs(result.score - sum(r.contribution for r in result.reasons)) < 1e-6
    band_floor = policy.spec.bands[result.band].min_score
    assert result.score >= band_floor or result.band == BANDS[-1]
    if flags & {"ongoing_access"} and offences & {"contact_abuse"}:
        assert result.band == "P1"


def test_due_time_is_from_arrival_and_restarts_when_the_band_rises() -> None:
    policy = default_policy()
    received = NOW - timedelta(days=3)
    low = evaluate(policy, signals(received_at=received), NOW)
    first = due_time(low, received, NOW, None)
    assert first == received + timedelta(hours=policy.spec.bands[low.band].due_hours)
    high = evaluate(policy, signals(flags=frozenset({"ongoing_access", "hands_on_abuse"})), NOW)
    assert due_time(high, received, NOW, (low.band, first)) == NOW + timedelta(hours=4)
    assert due_time(low, received, NOW, (low.band, first)) == first


@dataclass(frozen=True)
class FakeSignals:
    known: int = 0
    new_version: int = 0
    new: int = 0
    viral: bool = False
    victim_identified_known: bool = False
    matched: bool = False


def test_rescore_after_a_late_match_raises_the_band(database: Database, tmp_path: Path) -> None:
    make_world(database)
    ids = import_records(database, tmp_path, [record("late", [], flags=["hands_on_abuse"])])
    report_id = ids["late"]
    matches: dict[int, FakeSignals] = {}

    def media(session: Session, report_ids: Collection[int]) -> dict[int, Any]:
        return {rid: matches[rid] for rid in report_ids if rid in matches}

    first = score_reports(database, media_source=media, as_of=NOW)
    assert first.scored == 1
    with database.session() as session:
        before = session.get(TriageScore, report_id)
        assert before is not None
        assert before.band == "P2"
        assert before.trigger == "new"
    # The media capability learns that the report's media is a new version of known content.
    matches[report_id] = FakeSignals(new_version=1, matched=True)
    with database.session() as session:
        summary = rescore_reports(
            session, [report_id], trigger="match", media_source=media, as_of=NOW
        )
    assert (summary.considered, summary.rescored, summary.band_changed) == (1, 1, 1)
    with database.session() as session:
        after = session.get(TriageScore, report_id)
        assert after is not None
        factors = {reason["factor"]: reason["contribution"] for reason in after.reasons}
    assert after.band == "P1"
    assert after.trigger == "match"
    assert factors["new_version_of_known"] == 8
    assert factors["unidentified_victim_new_content"] == 5
    # It was already due (P2: arrival + 24 h) before the match: it stays due then, now overdue.
    assert after.due_at == datetime(2020, 4, 11, 10, tzinfo=UTC)
    # Nothing new: a second re-score leaves the stored score alone.
    with database.session() as session:
        again = rescore_reports(session, [report_id], media_source=media, as_of=NOW)
    assert (again.scored, again.unchanged) == (0, 1)


def test_rescore_after_a_late_link_adds_link_reasons(database: Database, tmp_path: Path) -> None:
    make_world(database)
    ids = import_records(database, tmp_path, [record("quiet", [email("watcher@example.com")])])
    link_reports(database)
    score_reports(database, media_source=None, as_of=NOW)
    later = import_records(
        database,
        tmp_path,
        [
            record(
                "loud",
                [email("watcher@example.com")],
                flags=["ongoing_access"],
                owner_agency="Police DE",
                stated_country="DE",
                # Clear, so that Police FR (the reader of "quiet") may see it.
                marking="clear",
            )
        ],
    )
    summary = link_reports(database)
    assert ids["quiet"] in summary.affected_report_ids
    score_reports(
        database, summary.affected_report_ids, trigger="link", media_source=None, as_of=NOW
    )
    with database.session() as session:
        quiet = session.get(TriageScore, ids["quiet"])
        loud = session.get(TriageScore, later["loud"])
        assert quiet is not None and loud is not None
        factors = {reason["factor"] for reason in quiet.reasons}
    assert quiet.trigger == "link"
    assert {"linked_reports", "several_countries", "linked_to_child_at_risk"} <= factors
    assert loud.trigger == "new"


def test_score_counts_an_id_that_names_no_report_as_missing(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(database, tmp_path, [record("here", [])])
    summary = score_reports(
        database, [ids["here"], ids["here"] + 1000], media_source=None, as_of=NOW
    )
    assert (summary.considered, summary.scored, summary.new, summary.missing) == (2, 1, 1, 1)
    assert summary.considered == summary.scored + summary.unchanged + summary.missing
