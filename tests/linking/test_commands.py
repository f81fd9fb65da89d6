"""``veille link``, ``veille link stoplist`` and ``veille clusters`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.linking.helpers import email, import_records, ip, make_world, record
from veille.cli import app
from veille.store.db import Database

runner = CliRunner()


def _setup(database: Database, tmp_path: Path) -> dict[str, int]:
    make_world(database)
    return import_records(
        database,
        tmp_path,
        [
            record("a", [email("one@example.com"), ip("203.0.113.5")]),
            record("b", [email("one@example.com")], owner_agency="Police DE", stated_country="DE"),
            record("c", [ip("203.0.113.5")], marking="red", owner_agency="Hotline FR"),
        ],
    )


def test_link_command_links_scores_and_reports_counts(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    result = runner.invoke(app, ["link", "--json"])
    assert result.exit_code == 0, result.output
    # Progress goes to standard error; standard output is the JSON alone.
    counts = json.loads(result.stdout)
    assert "linking reports" in result.stderr
    assert "scoring reports" in result.stderr
    assert counts["linking"]["reports_linked"] == 3
    # The red report of Hotline FR links with nothing of another agency and raises no alert.
    assert counts["linking"]["links_recorded"] == 1
    assert counts["linking"]["alerts_raised"] == 2
    assert counts["scoring"]["scored"] == 3
    again = runner.invoke(app, ["link"])
    assert "linked 0 reports" in again.output


def test_stoplist_add_list_and_bad_entry(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    added = runner.invoke(
        app, ["link", "stoplist", "add", "ip:203.0.113.5", "--reason", "shared proxy"]
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["link", "stoplist", "list", "--json"])
    rows = json.loads(listed.output)
    assert {
        "key": "ip:203.0.113.5",
        "source": "manual",
        "reason": "shared proxy",
        "report_count": None,
    } in rows
    assert any(row["key"] == "ip:100.64.0.0/10" for row in rows)
    bad = runner.invoke(app, ["link", "stoplist", "add", "colour:blue", "--reason", "x"])
    assert bad.exit_code == 2
    assert "kind 'colour' is not one of" in bad.output
    counts = json.loads(runner.invoke(app, ["link", "--json", "--no-score"]).stdout)
    assert counts["linking"]["links_recorded"] == 1
    assert counts["linking"]["alerts_raised"] == 2
    assert runner.invoke(app, ["link", "stoplist", "remove", "ip:203.0.113.5"]).exit_code == 0


def test_clusters_list_show_and_alerts_respect_visibility(
    database: Database, tmp_path: Path
) -> None:
    ids = _setup(database, tmp_path)
    runner.invoke(app, ["link"])
    listed = json.loads(
        runner.invoke(
            app, ["clusters", "list", "--as", "Police DE", "--min-size", "1", "--json"]
        ).output
    )
    assert listed["total"] == 1
    cluster = listed["clusters"][0]
    # Only what Police DE may see is counted: its own report.
    assert (cluster["size"], cluster["agencies"]) == (1, 1)
    assert "visible_reports" not in cluster
    pairs = json.loads(
        runner.invoke(app, ["clusters", "list", "--as", "Police DE", "--json"]).output
    )
    assert pairs["total"] == 0
    shown = runner.invoke(
        app, ["clusters", "show", cluster["cluster_id"], "--as", "Police DE", "--json"]
    )
    detail = json.loads(shown.output)
    assert [r["id"] for r in detail["reports"]] == [ids["b"]]
    assert "hidden_reports" not in detail
    # The link to Police FR's report is not shown: its other end is not visible.
    assert detail["links"] == []
    admin = json.loads(
        runner.invoke(
            app, ["clusters", "show", cluster["cluster_id"], "--all-agencies", "--json"]
        ).output
    )
    assert [r["id"] for r in admin["reports"]] == [ids["a"], ids["b"]]
    for unknown in ("999", str(ids["a"]), "cc-0000000000000000"):
        hidden = runner.invoke(app, ["clusters", "show", unknown, "--as", "Police DE"])
        assert hidden.exit_code == 1
    alerts = json.loads(
        runner.invoke(app, ["clusters", "alerts", "--as", "Police DE", "--json"]).output
    )
    assert [a["other_agency"] for a in alerts] == ["Police FR"]
    ack = runner.invoke(app, ["clusters", "ack", str(alerts[0]["id"]), "--as", "Police DE"])
    assert ack.exit_code == 0
    assert (
        runner.invoke(app, ["clusters", "ack", str(alerts[0]["id"]), "--as", "Police FR"]).exit_code
        == 1
    )
    missing = runner.invoke(app, ["clusters", "list"])
    assert missing.exit_code == 2
