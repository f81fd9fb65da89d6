"""Triage, referral and cluster commands name agencies and keep ids and times whole at 80 columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.linking.helpers import email, import_records, make_world, record
from veille import output
from veille.cli import app
from veille.store.db import Database

runner = CliRunner()


def _shared_case(database: Database, tmp_path: Path) -> dict[str, int]:
    """Three reports of one case: two held by Hotline FR (one pointing to DE), one by Police DE."""
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record(
                "to-de",
                [email("offender@example.com")],
                flags=["ongoing_access"],
                owner_agency="Hotline FR",
                derived_country="DE",
            ),
            record("to-fr", [email("offender@example.com")], owner_agency="Hotline FR"),
            record(
                "held-by-de",
                [email("offender@example.com")],
                owner_agency="Police DE",
                stated_country="DE",
                marking="clear",
            ),
        ],
    )
    linked = runner.invoke(app, ["link"])
    assert linked.exit_code == 0, linked.output
    return ids


def _cluster_id() -> str:
    listed = runner.invoke(app, ["clusters", "list", "--as", "Hotline FR", "--json"])
    return str(json.loads(listed.stdout)["clusters"][0]["cluster_id"])


def test_referral_commands_print_agency_names(database: Database, tmp_path: Path) -> None:
    agencies = make_world(database)
    ids = _shared_case(database, tmp_path)
    made = runner.invoke(app, ["refer", "report", str(ids["to-de"]), "--as", "Hotline FR"])
    assert made.exit_code == 0, made.output
    assert f"report {ids['to-de']} → Police DE (shared)" in made.stdout
    assert f"agency {agencies['Police DE']}" not in made.stdout
    bulk = runner.invoke(app, ["refer", "cluster", _cluster_id(), "--as", "Hotline FR", "--json"])
    assert bulk.exit_code == 0, bulk.output
    referred = json.loads(bulk.stdout)["referred"]
    # The report already referred comes back as it was; each goes to its own competent agency.
    assert [(r["report_id"], r["to_agency"], r["to_agency_id"]) for r in referred] == [
        (ids["to-de"], "Police DE", agencies["Police DE"]),
        (ids["to-fr"], "Police FR", agencies["Police FR"]),
    ]
    explained = json.loads(
        runner.invoke(
            app, ["triage", "explain", str(ids["to-de"]), "--as", "Hotline FR", "--json"]
        ).stdout
    )
    assert [(item["agency"], item["state"]) for item in explained["queue"]] == [
        ("Hotline FR", "referred")
    ]
    text = runner.invoke(app, ["triage", "explain", str(ids["to-de"]), "--as", "Hotline FR"])
    assert "in the queue of Hotline FR: referred" in text.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["triage", "queue", "--as", "Hotline FR", "--as-of", "2020-04-20T17:00:00Z"],
        ["clusters", "list", "--as", "Hotline FR"],
        ["clusters", "show", "{cluster}", "--as", "Hotline FR"],
        ["clusters", "alerts", "--as", "Hotline FR"],
        ["refer", "list", "--as", "Hotline FR"],
        ["refer", "cluster", "{cluster}", "--as", "Hotline FR"],
        ["triage", "explain", "{report}", "--as", "Hotline FR"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_tables_at_80_columns_keep_ids_and_times_whole(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    ids = _shared_case(database, tmp_path)
    cluster = _cluster_id()
    assert (
        runner.invoke(app, ["triage", "capacity", "set", "1", "--as", "Hotline FR"]).exit_code == 0
    )
    referred = runner.invoke(app, ["refer", "report", str(ids["to-de"]), "--as", "Hotline FR"])
    assert referred.exit_code == 0, referred.output
    wide = runner.invoke(app, ["--help"])  # the JSON below is independent of the width
    assert wide.exit_code == 0
    monkeypatch.setattr(output.console, "width", 80)
    argv = [part.format(cluster=cluster, report=ids["to-fr"]) for part in command]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    whole = re.compile(r"cc-[0-9a-f]{16}|\d{4}-\d\d-\d\dT[\d:]+Z")
    # Every id and time the command's rows hold appears whole on one line.
    rendered = "\n".join(lines)
    for value in _values_shown(argv, cluster, ids):
        assert value in rendered, f"{value} is cut in:\n{rendered}"
    for found in whole.findall(rendered):
        assert len(found) in (19, 17, 20), found


def _values_shown(argv: list[str], cluster: str, ids: dict[str, int]) -> list[str]:
    if argv[:2] == ["triage", "queue"]:
        return [str(ids["to-fr"]), "2020-04-11T10:00Z", "linked_to_child_at_risk +40"]
    if argv[:2] == ["clusters", "list"]:
        return [cluster]
    if argv[:2] == ["clusters", "show"]:
        return [str(ids["to-de"]), str(ids["to-fr"]), "2020-04-10T10:00:00Z"]
    if argv[:2] == ["clusters", "alerts"]:
        return [cluster]
    if argv[:2] == ["refer", "list"]:
        return [str(ids["to-de"])]
    if argv[:2] == ["refer", "cluster"]:
        return [str(ids["to-fr"]), "Police FR"]
    return [str(ids["to-fr"])]
