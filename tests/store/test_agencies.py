"""Agencies: add, list, import, with errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from veille.cli import app
from veille.store.db import Database

runner = CliRunner()


def test_add_and_list_agencies(database: Database) -> None:
    result = runner.invoke(
        app, ["agencies", "add", "Police FR", "--kind", "police", "--country", "fra"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["agencies", "list", "--json"])
    assert json.loads(result.output) == [
        {"id": 1, "name": "Police FR", "kind": "police", "country": "FR", "contact": None}
    ]


def test_duplicate_or_bad_country_is_refused(database: Database) -> None:
    runner.invoke(app, ["agencies", "add", "Police FR", "--kind", "police", "--country", "FR"])
    again = runner.invoke(
        app, ["agencies", "add", "Police FR", "--kind", "police", "--country", "FR"]
    )
    assert again.exit_code == 2 and "already exists" in again.output
    bad = runner.invoke(app, ["agencies", "add", "Nowhere", "--kind", "police", "--country", "XX"])
    assert bad.exit_code == 2 and "ISO 3166" in bad.output


def test_import_agencies_is_idempotent_and_validates(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "agencies.jsonl"
    path.write_text(json.dumps({"name": "Hotline DE", "kind": "hotline", "country": "DE"}) + "\n")
    first = runner.invoke(app, ["agencies", "import", str(path)])
    second = runner.invoke(app, ["agencies", "import", str(path)])
    assert "1 created" in first.output and "1 already present" in second.output
    path.write_text(json.dumps({"name": "X", "kind": "army", "country": "DE"}) + "\n")
    bad = runner.invoke(app, ["agencies", "import", str(path)])
    assert bad.exit_code == 2 and "line 1: kind" in bad.output


def test_commands_refuse_an_unmigrated_database(tmp_path: Path, monkeypatch: object) -> None:
    result = runner.invoke(app, ["agencies", "list"])
    assert result.exit_code == 2 and "veille init" in result.output
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0 and "database ready" in result.output
    assert runner.invoke(app, ["agencies", "list"]).exit_code == 0


def test_find_agency_by_name_or_id_refuses_ids_no_database_holds(database: Database) -> None:
    import pytest

    from veille.store.agencies import AgencyNotFound, AgencySpec, add_agency, find_agency
    from veille.vocab import AgencyKind

    with database.session() as session:
        police = add_agency(session, AgencySpec("Police FR", AgencyKind.POLICE, "FR"))
        assert find_agency(session, "Police FR").id == police.id
        assert find_agency(session, str(police.id)).id == police.id
        # Found by schemathesis: an id past 64 bits overflowed the driver (500).
        for key in ("9223372036854775808", "²"):
            with pytest.raises(AgencyNotFound):
                find_agency(session, key)
