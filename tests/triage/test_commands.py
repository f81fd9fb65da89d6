"""``veille triage`` and ``veille refer`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.linking.helpers import import_records, make_world, record
from veille.cli import app
from veille.store.db import Database

runner = CliRunner()


def _setup(database: Database, tmp_path: Path) -> dict[str, int]:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record(
                "urgent",
                [],
                flags=["ongoing_access", "hands_on_abuse"],
                owner_agency="Hotline FR",
                derived_country="DE",
            ),
            record("routine", [], owner_agency="Hotline FR"),
        ],
    )
    assert runner.invoke(app, ["triage", "score"]).exit_code == 0
    return ids


def test_queue_explain_and_state_changes(database: Database, tmp_path: Path) -> None:
    ids = _setup(database, tmp_path)
    assert (
        runner.invoke(app, ["triage", "capacity", "set", "1", "--as", "Hotline FR"]).exit_code == 0
    )
    queue = json.loads(
        runner.invoke(app, ["triage", "queue", "--as", "Hotline FR", "--json"]).output
    )
    assert [item["report_id"] for item in queue["items"]] == [ids["urgent"], ids["routine"]]
    assert queue["not_reached_today"] == 1
    table = runner.invoke(app, ["triage", "queue", "--as", "Hotline FR"])
    assert "will not be reached today" in table.output
    explained = json.loads(
        runner.invoke(
            app, ["triage", "explain", str(ids["urgent"]), "--as", "Hotline FR", "--json"]
        ).output
    )
    assert explained["band"] == "P1"
    assert explained["reasons"][0]["factor"] == "hands_on_abuse"
    assert (
        runner.invoke(app, ["triage", "explain", str(ids["urgent"]), "--as", "Police DE"]).exit_code
        == 1
    )
    assigned = runner.invoke(
        app, ["triage", "assign", str(ids["routine"]), "--to", "alice", "--as", "Hotline FR"]
    )
    assert "assigned (alice)" in assigned.output
    refused = runner.invoke(app, ["triage", "reopen", str(ids["routine"]), "--as", "Police DE"])
    assert refused.exit_code == 1
    closed = runner.invoke(
        app,
        ["triage", "close", str(ids["routine"]), "--outcome", "no_offence", "--as", "Hotline FR"],
    )
    assert closed.exit_code == 0
    again = runner.invoke(app, ["triage", "start", str(ids["routine"]), "--as", "Hotline FR"])
    assert again.exit_code == 2
    assert "it can move to new" in again.output


def test_refer_suggest_report_list_and_ack(database: Database, tmp_path: Path) -> None:
    ids = _setup(database, tmp_path)
    urgent = str(ids["urgent"])
    suggested = runner.invoke(app, ["refer", "suggest", urgent, "--as", "Hotline FR"])
    assert "Police DE" in suggested.output
    made = runner.invoke(
        app, ["refer", "report", urgent, "--as", "Hotline FR", "--reason", "child in DE"]
    )
    assert made.exit_code == 0, made.output
    assert "child in DE" in made.output
    rows = json.loads(runner.invoke(app, ["refer", "list", "--as", "Police DE", "--json"]).output)
    assert [(r["report_id"], r["from"], r["to"]) for r in rows] == [
        (ids["urgent"], "Hotline FR", "Police DE")
    ]
    assert (
        runner.invoke(app, ["refer", "ack", str(rows[0]["id"]), "--as", "Police DE"]).exit_code == 0
    )
    assert (
        runner.invoke(app, ["refer", "ack", str(rows[0]["id"]), "--as", "Police FR"]).exit_code == 1
    )
    unknown = runner.invoke(
        app, ["refer", "report", urgent, "--as", "Hotline FR", "--to", "Nobody"]
    )
    assert unknown.exit_code == 2
    bad_direction = runner.invoke(
        app, ["refer", "list", "--as", "Police DE", "--direction", "sideways"]
    )
    assert bad_direction.exit_code == 2


def test_score_refresh_picks_up_changed_facts(database: Database, tmp_path: Path) -> None:
    from sqlalchemy import insert

    from veille.store.models import ReportFlagRow

    ids = _setup(database, tmp_path)
    with database.session() as session:
        session.execute(
            insert(ReportFlagRow).values(report_id=ids["routine"], flag="self_harm_threat")
        )
    result = json.loads(runner.invoke(app, ["triage", "score", "--refresh", "--json"]).stdout)
    assert (result["scored"], result["unchanged"], result["band_changed"]) == (1, 1, 1)
    explained = json.loads(
        runner.invoke(
            app, ["triage", "explain", str(ids["routine"]), "--as", "Hotline FR", "--json"]
        ).output
    )
    assert explained["band"] == "P1"
    assert explained["trigger"] == "refresh"


def _assert_counts_add_up(counts: dict[str, Any]) -> None:
    assert counts["considered"] == counts["scored"] + counts["unchanged"] + counts["missing"]
    assert counts["scored"] == counts["new"] + counts["rescored"] == sum(counts["by_band"].values())
    assert counts["band_changed"] <= counts["rescored"]


def test_score_counts_add_up_for_new_all_and_refresh(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    import_records(database, tmp_path, [record("late", [], owner_agency="Hotline FR")])

    def score(*options: str) -> dict[str, Any]:
        result = runner.invoke(app, ["triage", "score", *options, "--json"])
        assert result.exit_code == 0, result.output
        counts: dict[str, Any] = json.loads(result.stdout)
        assert "scoring reports" in result.stderr
        _assert_counts_add_up(counts)
        return counts

    first = score()
    assert (first["considered"], first["new"], first["rescored"]) == (1, 1, 0)
    every = score("--all")
    assert (every["considered"], every["scored"], every["new"], every["rescored"]) == (3, 3, 0, 3)
    assert (every["unchanged"], every["missing"], every["band_changed"]) == (0, 0, 0)
    refresh = score("--refresh")
    assert (refresh["considered"], refresh["scored"], refresh["unchanged"]) == (3, 0, 3)
    text = runner.invoke(app, ["triage", "score", "--all"]).output
    assert "3 considered: 3 scored (0 new, 3 re-scored, 0 changed band), 0 unchanged" in text
