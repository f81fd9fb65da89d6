"""The questionnaire sent to every police unit and their answers (the truth, plus noise).

The expected answer of each question follows the planted effect (a factor
above 1.15 is an increase, below 0.87 a decrease); some answers differ, as
real questionnaires do.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from veille.synth.config import ScenarioConfig
from veille.synth.reports import dumps
from veille.synth.world import INTELLIGENCE_UNIT, World, police_name

QUESTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "p2p_sharing",
        "Sharing of CSAM on peer-to-peer networks since restrictions began",
        "p2p_sharing",
    ),
    ("darknet_activity", "Activity on dark-net forums", "darknet_forum"),
    ("darknet_new_content", "Volume of new content on dark-net forums", "new_content"),
    ("viral_content", "Viral content on social media and messaging", "viral"),
    ("self_generated", "Self-generated content on the clear web", "self_generated"),
    ("messaging", "Offences through messaging applications", "messaging"),
    ("online_gaming", "Children targeted on online gaming platforms", "online_gaming"),
    ("paid_content", "Offers of paid content", "paid_content"),
    ("travelling_offenders", "Activity of travelling child-sex offenders", "travelling_offender"),
    ("domestic_abuse_reports", "Reports of domestic child sexual abuse", "domestic_reports"),
    ("database_use", "Your unit's use of the international image database", "usage"),
)
ANSWERS = ("increase", "stable", "decrease", "unknown")


def _direction(factor: float) -> str:
    return "increase" if factor > 1.15 else "decrease" if factor < 0.87 else "stable"


def write_questionnaire(
    config: ScenarioConfig,
    world: World,
    rng: random.Random,
    usage_behaviour: dict[str, str],
    definition_out: IO[str],
    answers_out: IO[str],
) -> dict[str, Any]:
    """The questionnaire sent to every police unit and their answers (truth plus noise)."""
    streams = config.streams
    expected = {
        "p2p_sharing": _direction(streams["p2p_sharing"].during)
        if "p2p_sharing" in streams
        else "stable",
        "darknet_forum": _direction(streams["darknet_forum"].during)
        if "darknet_forum" in streams
        else "stable",
        "new_content": "stable",
        "viral": _direction(config.viral.during),
        "self_generated": _direction(streams["self_generated"].during)
        if "self_generated" in streams
        else "stable",
        "messaging": _direction(streams["messaging"].during)
        if "messaging" in streams
        else "stable",
        "online_gaming": _direction(streams["online_gaming"].during)
        if "online_gaming" in streams
        else "stable",
        "paid_content": "increase",
        "travelling_offender": _direction(streams["travelling_offender"].during)
        if "travelling_offender" in streams
        else "stable",
        "domestic_reports": "decrease",
    }
    sent = datetime(
        config.questionnaire.sent_on.year,
        config.questionnaire.sent_on.month,
        config.questionnaire.sent_on.day,
        9,
        tzinfo=UTC,
    )
    definition_out.write(
        dumps(
            {
                "questionnaire_id": "Q-2020-COVID",
                "title": "Impact of COVID-19 restrictions on child sexual exploitation",
                "sender": INTELLIGENCE_UNIT,
                "sent_at": sent.isoformat(),
                "questions": [
                    {"id": qid, "text": text, "answers": list(ANSWERS)}
                    for qid, text, _ in QUESTIONS
                ]
                + [
                    {
                        "id": "video_conference_intrusions",
                        "text": "Number of video-conference intrusions reported",
                        "answers": "integer 0-5",
                    }
                ],
            }
        )
        + "\n"
    )
    responses = 0
    for country in world.countries:
        if rng.random() < 0.15:
            continue  # no answer from this country
        agency = police_name(country.code)
        answers: dict[str, object] = {}
        for qid, _, key in QUESTIONS:
            truth = (
                {"stopped": "decrease", "reduced": "decrease", "continued": "stable"}[
                    usage_behaviour.get(agency, "continued")
                ]
                if key == "usage"
                else expected[key]
            )
            answers[qid] = (
                truth
                if rng.random() >= config.questionnaire.noise
                else rng.choice(["stable", "unknown"])
            )
        responses += 1
        answers_out.write(
            dumps(
                {
                    "questionnaire_id": "Q-2020-COVID",
                    "agency": agency,
                    "country": country.code,
                    "submitted_at": (
                        sent + timedelta(seconds=rng.randrange(3 * 86_400, 40 * 86_400))
                    ).isoformat(),
                    "answers": answers,
                }
            )
            + "\n"
        )
    return {
        "responses": responses,
        "countries": len(world.countries),
        "expected_answers": expected,
        "noise": config.questionnaire.noise,
    }
