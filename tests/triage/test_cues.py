"""Cues of a child in danger read from free text, in English and French, and the reasons they give."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.linking.helpers import email, import_records, make_world, record
from veille.linking.engine import link_reports
from veille.store.db import Database
from veille.triage.cues import NO_CUES, read_cues
from veille.triage.models import TriageScore
from veille.triage.policy import default_policy
from veille.triage.scoring import evaluate, score_reports
from veille.triage.signals import gather_signals

NOW = datetime(2020, 4, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "state", "words"),
    [
        ("The reporter says the man lives with the girl.", "ongoing_access", "lives with the girl"),
        (
            "La personne qui signale indique que l'homme vit avec la fillette.",
            "ongoing_access",
            "vit avec la fillette",
        ),
        ("He still babysits her niece on Sundays.", "ongoing_access", "babysits her niece"),
        ("Il garde toujours l'enfant le mercredi.", "ongoing_access", "garde toujours l'enfant"),
        ("The caller says it is happening now.", "live_abuse", "it is happening now"),
        ("Une session en direct est prévue ce soir.", "live_abuse", "en direct est prévue ce soir"),
        ("She wrote that she wants to hurt herself.", "self_harm", "hurt herself"),
        ("Le garçon a dit qu'il ne voulait plus vivre.", "self_harm", "ne voulait plus vivre"),
        ("THE BOY SAID HE DOES NOT WANT TO LIVE.", "self_harm", "DOES NOT WANT TO LIVE"),
    ],
)
def test_a_plain_cue_names_its_risk_state_and_quotes_the_words(
    text: str, state: str, words: str
) -> None:
    cues = read_cues(text)
    assert cues.plain == ((state, words),)
    assert cues.vague is None


@pytest.mark.parametrize(
    "text",
    [
        "The reporter is worried about the child.",
        "La personne qui signale s'inquiète pour l'enfant.",
        "Please look at this quickly.",
        "Merci de traiter ceci rapidement.",
    ],
)
def test_a_vague_cue_is_a_concern_not_a_risk_state(text: str) -> None:
    cues = read_cues(text)
    assert cues.plain == ()
    assert cues.vague is not None


@pytest.mark.parametrize(
    "text",
    [
        "The school reported a concern.",
        "Un enseignant a fait part d'une inquiétude.",
        "Files were shared online by a live streaming service.",
        "The account lives on another platform now.",
        "",
        None,
    ],
)
def test_ordinary_text_carries_no_cue(text: str | None) -> None:
    assert read_cues(text) == NO_CUES


@given(st.text(max_size=300))
def test_any_text_reads_without_error(text: str) -> None:
    cues = read_cues(text)
    assert all(words for _, words in cues.plain)


def test_a_plain_cue_in_the_summary_alone_reaches_p1_with_its_reason(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("said", summary="Un voisin indique que l'homme vit avec la fillette."),
            record("plain", summary="Files were found on an account."),
        ],
    )
    with database.session() as session:
        facts = gather_signals(session, list(ids.values()), media_source=None)
    policy = default_policy()
    said = evaluate(policy, facts[ids["said"]], NOW)
    plain = evaluate(policy, facts[ids["plain"]], NOW)
    assert said.band == "P1"
    reason = next(r for r in said.reasons if r.factor == "risk_stated_in_text")
    assert reason.contribution == 60
    assert reason.detail == 'the summary states ongoing access to a child: "vit avec la fillette"'
    assert plain.band != "P1"
    assert "risk_stated_in_text" not in {r.factor for r in plain.reasons}


def test_a_linked_report_whose_text_states_a_risk_raises_the_others(
    database: Database, tmp_path: Path
) -> None:
    """The inference from a linked report is shown among the reasons, with what it rests on."""
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("quiet", [email("keeper@example.com")]),
            record(
                "told",
                [email("keeper@example.com")],
                summary="The reporter says he still looks after the boy every weekend.",
            ),
            record("alone", [email("stranger@example.com")]),
        ],
    )
    link_reports(database)
    score_reports(database, media_source=None, as_of=NOW)
    with database.session() as session:
        quiet = session.get(TriageScore, ids["quiet"])
        alone = session.get(TriageScore, ids["alone"])
        assert quiet is not None and alone is not None
        linked = [r for r in quiet.reasons if r["factor"] == "linked_to_child_at_risk"]
        assert linked == [
            {
                "factor": "linked_to_child_at_risk",
                "contribution": 40.0,
                "detail": "another report of its case cluster states in its text "
                "ongoing access to a child",
            }
        ]
        assert "linked_to_child_at_risk" not in {r["factor"] for r in alone.reasons}
