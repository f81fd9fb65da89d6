"""Provider response and questionnaire aggregates from the casework capability's records."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.casework.helpers import make_world
from tests.casework.test_survey import GOOD_YAML
from tests.factories import write_jsonl
from veille.analytics.periods import Period, PeriodSet
from veille.analytics.providers import provider_statistics
from veille.casework.survey import define_questionnaire, import_answers
from veille.casework.survey_definition import load_definition
from veille.casework.takedown_import import import_notices
from veille.cli import app
from veille.intake.credentials import create_api_key
from veille.store.db import Database
from veille.store.reports import Viewer
from veille.web import create_app

runner = CliRunner()
PERIODS = PeriodSet(
    (
        Period("before", date(2020, 1, 1), date(2020, 2, 29)),
        Period("during", date(2020, 3, 1), date(2020, 5, 31)),
    )
)


def _notice(number: int, sent: str, hours: int | None) -> dict[str, object]:
    removed = None
    if hours is not None:
        day, hour = divmod(10 + hours, 24)
        removed = f"{sent[:8]}{int(sent[8:10]) + day:02d}T{hour:02d}:00:00+00:00"
    return {
        "notice_id": f"TD-{number}",
        "report_external_id": f"R-{number}",
        "sender_agency": "Hotline FR" if number % 2 else "Police DE",
        "provider_agency": "Chirpline Inc.",
        "url": f"https://chirpline.example/p/{number}",
        "host": "chirpline.example",
        "sent_at": f"{sent}T10:00:00+00:00",
        "acknowledged_at": f"{sent}T11:00:00+00:00",
        "removed_at": removed,
    }


def test_removal_times_per_period_and_what_each_agency_sees(
    database: Database, tmp_path: Path
) -> None:
    agencies = make_world(database)
    lines = [
        _notice(1, "2020-01-06", 10),
        _notice(2, "2020-01-07", 20),
        _notice(3, "2020-01-08", 30),
        _notice(4, "2020-04-06", 50),
        _notice(5, "2020-04-07", 70),
        _notice(6, "2020-04-08", None),
    ]
    import_notices(database, write_jsonl(tmp_path / "takedowns.jsonl", lines), actor="t")
    with database.session() as session:
        every = provider_statistics(session, Viewer("admin", None), PERIODS)
        hotline = provider_statistics(session, Viewer("t", agencies["Hotline FR"]), PERIODS)
    rows = {(r["provider"], r["period"]): r for r in every}
    before, during = rows[("all providers", "before")], rows[("all providers", "during")]
    assert (before["notices"], before["median_hours"], before["removed_within_24h"]) == (
        3,
        20.0,
        0.667,
    )
    assert (during["notices"], during["removed"], during["open"], during["median_hours"]) == (
        3,
        2,
        1,
        60.0,
    )
    # The open notice is counted as censored: half removed by 70 hours.
    assert during["median_hours_with_open"] == 70.0
    # Hotline FR sent the odd-numbered notices: it sees those only.
    assert sum(r["notices"] for r in hotline if r["provider"] == "all providers") == 3
    chart = tmp_path / "providers.png"
    drawn = runner.invoke(
        app,
        [
            "trends",
            "providers",
            "--all-agencies",
            "--json",
            "--period",
            "before=2020-01-01..2020-02-29",
            "--period",
            "during=2020-03-01..2020-05-31",
            "--chart",
            str(chart),
        ],
    )
    assert drawn.exit_code == 0, drawn.output
    assert len(json.loads(drawn.stdout)) == len(every)
    assert chart.read_bytes().startswith(b"\x89PNG")
    # Through the API, the key's agency sees what it sees here.
    with database.session() as session:
        _, key = create_api_key(session, "Hotline FR", ["reports:read"])
    with TestClient(create_app(database)) as client:
        answer = client.get(
            "/api/v1/analytics/providers",
            params={"period": ["before=2020-01-01..2020-02-29", "during=2020-03-01..2020-05-31"]},
            headers={"X-API-Key": key},
        )
    assert answer.status_code == 200, answer.text
    assert sum(r["notices"] for r in answer.json() if r["provider"] == "all providers") == 3


def test_n_of_m_countries_report_an_increase(database: Database, tmp_path: Path) -> None:
    make_world(database)
    definition = tmp_path / "q.yaml"
    definition.write_text(GOOD_YAML)
    with database.session() as session:
        define_questionnaire(session, load_definition(definition), actor="t")
    answers = [
        {
            "questionnaire_id": "Q-TEST",
            "agency": name,
            "submitted_at": "2020-06-01T10:00:00Z",
            "answers": {"p2p_sharing": answer},
        }
        for name, answer in (
            ("Police FR", "increase"),
            ("Hotline FR", "increase"),
            ("Police DE", "stable"),
        )
    ]
    import_answers(database, write_jsonl(tmp_path / "answers.jsonl", answers), actor="t")
    regions = tmp_path / "regions.yaml"
    regions.write_text("FR: Western Europe\nDE: Central Europe\n")
    chart = tmp_path / "survey.svg"
    result = runner.invoke(
        app,
        ["trends", "survey", "Q-TEST", "--regions", str(regions), "--json", "--chart", str(chart)],
    )
    assert result.exit_code == 0, result.output
    assert "<svg" in chart.read_text()
    rows = {(r["question"], r["region"]): r for r in json.loads(result.stdout)["rows"]}
    overall = rows[("p2p_sharing", "all regions")]
    # Two French units count as one country.
    assert (overall["countries"], overall["increase"], overall["stable"]) == (2, 1, 1)
    assert overall["sentence"].startswith("1 of 2 countries report an increase")
    assert rows[("p2p_sharing", "Western Europe")]["increase"] == 1
    missing = runner.invoke(app, ["trends", "survey", "Q-NONE"])
    assert missing.exit_code == 1 and "Q-NONE" in missing.output
    with database.session() as session:
        _, key = create_api_key(session, "Police DE", ["reports:read"])
    with TestClient(create_app(database)) as client:
        found = client.get("/api/v1/analytics/survey/Q-TEST", headers={"X-API-Key": key})
        unknown = client.get("/api/v1/analytics/survey/Q-NONE", headers={"X-API-Key": key})
    assert found.status_code == 200, found.text
    assert found.json()["countries"] == 2
    assert unknown.status_code == 404 and unknown.json()["detail"][0]["field"] == "questionnaire"
