"""Questionnaires: defined in YAML with clear errors, sent, answered by API and import, tallied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.casework.helpers import api_app, jsonl, make_world
from veille.casework.errors import CaseworkError, ImportRefused
from veille.casework.models import QuestionnaireResponse
from veille.casework.survey import (
    define_questionnaire,
    import_answers,
    send_questionnaire,
    survey_answers,
    tally,
)
from veille.casework.survey_definition import QuestionKind, load_definition, parse_definition
from veille.cli import app
from veille.store.db import Database

GOOD_YAML = """\
id: Q-TEST
title: Restrictions and exploitation
sender: Intelligence unit
questions:
  - id: p2p_sharing
    text: Sharing on peer-to-peer networks
    choices: [increase, stable, decrease, unknown]
    required: true
  - id: intrusions
    text: Video-conference intrusions reported
    kind: number
    minimum: 0
    maximum: 5
  - id: comments
    text: Anything else?
    kind: open
    max_length: 40
"""


def _define(database: Database, tmp_path: Path, text: str = GOOD_YAML) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(text, encoding="utf-8")
    with database.session() as session:
        define_questionnaire(session, load_definition(path), actor="t")


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (GOOD_YAML.replace("    choices: [increase, stable, decrease, unknown]\n", ""),
         "questions.0", "at least two choices"),
        (GOOD_YAML.replace("kind: open", "kind: essay"), "questions.2.kind", "'closed', 'open'"),
        (GOOD_YAML.replace("id: comments", "id: p2p_sharing"), "(file)", "used twice"),
        (GOOD_YAML.replace("title: Restrictions and exploitation\n", ""), "title", "required"),
        (GOOD_YAML.replace("minimum: 0", "minimum: 9"), "questions.1", "minimum is above maximum"),
        (GOOD_YAML.replace("    max_length: 40\n", "    max_length: 40\n    colour: red\n"),
         "questions.2.colour", "not permitted"),
        (GOOD_YAML.replace("id: Q-TEST", "id: 'bad id!'"), "id", "pattern"),
        ("questions: [\n", "file", "not valid YAML"),
        ("- just\n- a list\n", "file", "expected a mapping"),
    ],
)  # fmt: skip
def test_a_bad_questionnaire_file_names_the_field(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CaseworkError) as refused:
        load_definition(path)
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_the_scenario_json_reads_as_closed_and_number_questions() -> None:
    definition = parse_definition(
        {
            "questionnaire_id": "Q-2020-COVID",
            "title": "Impact",
            "sender": "Unit",
            "sent_at": "2020-06-08T09:00:00+00:00",
            "questions": [
                {"id": "p2p", "text": "P2P", "answers": ["increase", "stable"]},
                {"id": "intrusions", "text": "How many", "answers": "integer 0-5"},
            ],
        }
    )
    assert definition.id == "Q-2020-COVID"
    assert [q.kind for q in definition.questions] == [QuestionKind.CLOSED, QuestionKind.NUMBER]
    assert (definition.questions[1].minimum, definition.questions[1].maximum) == (0, 5)


def test_cli_define_refuses_a_bad_file_with_exit_code_2(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(GOOD_YAML.replace("kind: open", "kind: essay"), encoding="utf-8")
    result = CliRunner().invoke(app, ["survey", "define", str(path)])
    assert result.exit_code == 2
    assert "questions.2.kind" in result.output
    path.write_text(GOOD_YAML, encoding="utf-8")
    assert CliRunner().invoke(app, ["survey", "define", str(path)]).exit_code == 0
    changed = GOOD_YAML.replace("Anything else?", "Anything more?")
    path.write_text(changed, encoding="utf-8")
    again = CliRunner().invoke(app, ["survey", "define", str(path)])
    assert again.exit_code == 1 and "use a new id" in again.output


def _answers(agency: str, **answers: object) -> dict[str, object]:
    return {
        "questionnaire_id": "Q-TEST",
        "agency": agency,
        "country": agency[-2:],
        "submitted_at": "2020-06-10T10:00:00Z",
        "answers": answers,
    }


def test_import_checks_every_answer_and_writes_nothing_on_a_bad_line(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    _define(database, tmp_path)
    path = tmp_path / "answers.jsonl"
    path.write_text(
        jsonl(
            [
                _answers("Police FR", p2p_sharing="increase", intrusions=2),
                _answers("Police DE", p2p_sharing="more"),
                _answers("Nobody XX", p2p_sharing="stable"),
                _answers("Hotline FR", p2p_sharing="stable", intrusions=9, colour="red"),
                _answers("Police DE", intrusions=1),
                _answers("Police FR", p2p_sharing="stable", comments="x" * 41),
            ]
        )
    )
    with pytest.raises(ImportRefused) as refused:
        import_answers(database, path, actor="t")
    assert {(p.line, p.field) for p in refused.value.problems} == {
        (2, "answers.p2p_sharing"), (3, "agency"), (4, "answers.intrusions"),
        (4, "answers.colour"), (5, "agency"), (5, "answers.p2p_sharing"), (6, "agency"),
        (6, "answers.comments"),
    }  # fmt: skip
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 0

    path.write_text(
        jsonl(
            [
                _answers("Police FR", p2p_sharing="increase", intrusions=2, comments="busy"),
                _answers("Police DE", p2p_sharing="increase"),
                _answers("Hotline FR", p2p_sharing="stable"),
            ]
        )
    )
    assert import_answers(database, path, actor="t").recorded == 3
    with database.session() as session:
        definition, sets = survey_answers(session, "Q-TEST")
    assert [s.agency for s in sets] == ["Hotline FR", "Police DE", "Police FR"]
    assert tally(definition, sets) == [
        {"question": "p2p_sharing", "answered": 3, "increase": 2, "stable": 1, "decrease": 0,
         "unknown": 0},
        {"question": "intrusions", "answered": 1},
        {"question": "comments", "answered": 1},
    ]  # fmt: skip


def test_an_agency_answers_through_the_api_only_what_was_sent_to_it(
    database: Database, tmp_path: Path
) -> None:
    agencies = make_world(database)
    _define(database, tmp_path)
    with database.session() as session:
        assert send_questionnaire(session, "Q-TEST", [agencies["Police FR"]], actor="t") == 1
        assert send_questionnaire(session, "Q-TEST", [agencies["Police FR"]], actor="t") == 0
    client = TestClient(api_app(database, agencies))
    fr, de = {"X-Test-Agency": "Police FR"}, {"X-Test-Agency": "Police DE"}
    assert [q["id"] for q in client.get("/api/v1/surveys", headers=fr).json()] == ["Q-TEST"]
    assert client.get("/api/v1/surveys", headers=de).json() == []
    shown = client.get("/api/v1/surveys/Q-TEST", headers=fr).json()
    assert [q["id"] for q in shown["questions"]] == ["p2p_sharing", "intrusions", "comments"]
    assert client.get("/api/v1/surveys/Q-TEST", headers=de).status_code == 404

    bad = client.put(
        "/api/v1/surveys/Q-TEST/answers", headers=fr, json={"answers": {"p2p_sharing": "up"}}
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "answers.p2p_sharing"
    missing = client.put(
        "/api/v1/surveys/Q-TEST/answers", headers=fr, json={"answers": {"intrusions": 3}}
    )
    assert (
        missing.status_code == 422 and missing.json()["detail"][0]["field"] == "answers.p2p_sharing"
    )
    assert (
        client.put(
            "/api/v1/surveys/Q-TEST/answers",
            headers=de,
            json={"answers": {"p2p_sharing": "stable"}},
        ).status_code
        == 404
    )
    done = client.put(
        "/api/v1/surveys/Q-TEST/answers", headers=fr,
        json={"answers": {"p2p_sharing": "decrease", "intrusions": 3}},
    )  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["country"] == "FR"
    # A second submission replaces the first.
    client.put(
        "/api/v1/surveys/Q-TEST/answers", headers=fr, json={"answers": {"p2p_sharing": "stable"}}
    )
    with database.session() as session:
        _, sets = survey_answers(session, "Q-TEST")
    assert [(s.agency, s.channel, s.answers) for s in sets] == [
        ("Police FR", "api", {"p2p_sharing": "stable"})
    ]
    listed = CliRunner().invoke(app, ["survey", "results", "Q-TEST", "--json"])
    assert json.loads(listed.output)["tally"][0]["stable"] == 1
