"""Hash lists in the database: idempotent import, tombstones, exports, CLI errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from veille.cli import app
from veille.media.listformats import ListEntry, parse_csv
from veille.media.lists import ListMetadata, export_entries, import_list, list_lists, remove_items
from veille.store.db import Database

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
CSV = (
    "md5,sha1,sha256,pdq,category,series,victim_identified,offender_identified,is_distributed,tags\n"
    f"{'a' * 32},,,{PDQ},1,bridge,true,false,true,x;y\n"
    f"{'b' * 32},,,,2,,false,,,\n"
)


def test_reimport_is_idempotent_and_updates_changed_fields(database: Database) -> None:
    entries = parse_csv(CSV)
    with database.session() as session:
        first = import_list(session, "bank", entries, "csv", ListMetadata(source="partner"))
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    with database.session() as session:
        again = import_list(session, "bank", entries, "csv", ListMetadata(source="partner"))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = parse_csv(CSV.replace(",2,,false", ",3,,false"))
    with database.session() as session:
        third = import_list(session, "bank", changed, "csv", ListMetadata())
        (row,) = list_lists(session)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 1)
    assert row["items"] == 2 and row["source"] == "partner"


def test_removed_items_are_tombstoned_and_exported_as_removed(database: Database) -> None:
    with database.session() as session:
        import_list(session, "bank", parse_csv(CSV), "csv")
        assert remove_items(session, "bank", [f"md5:{'b' * 32}"]) == 1
        assert remove_items(session, "bank", [f"md5:{'b' * 32}"]) == 0
        exported = export_entries(session, "bank")
        (row,) = list_lists(session)
    assert [e.removed for e in exported] == [False, True]
    assert (row["items"], row["removed"]) == (1, 1)
    # Re-importing the item brings it back.
    with database.session() as session:
        summary = import_list(session, "bank", [ListEntry(md5="b" * 32)], "csv")
        assert summary.updated == 1
        assert [e.removed for e in export_entries(session, "bank")] == [False, False]


def test_cli_import_list_export_remove(database: Database, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    source = tmp_path / "bank.csv"
    source.write_text(CSV)
    result = runner.invoke(
        app,
        ["lists", "import", str(source), "--format", "csv", "--source", "NGO", "--threshold", "20"],
    )
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    assert (
        "2 added"
        not in runner.invoke(app, ["lists", "import", str(source), "--format", "csv"]).output
    )
    listed = runner.invoke(app, ["lists", "list", "--json"])
    assert '"name": "bank"' in listed.output and '"items": 2' in listed.output
    removed = runner.invoke(app, ["lists", "remove", "bank", PDQ])
    assert removed.exit_code == 0 and "1 items removed" in removed.output
    exported = runner.invoke(app, ["lists", "export", "bank", "--format", "te"])
    assert f"# removed pdq {PDQ}" in exported.output
    assert f"md5 {'b' * 32}" in exported.output
    assert runner.invoke(app, ["lists", "export", "nope"]).exit_code == 1


def test_cli_bad_file_writes_nothing_and_names_line_and_field(
    database: Database, tmp_path: Path
) -> None:
    runner = CliRunner()
    runner.invoke(app, ["init"])
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "zzz,,,,1,,,,,\n")
    result = runner.invoke(app, ["lists", "import", str(bad), "--format", "csv"])
    assert result.exit_code == 2
    assert "line 4, field md5" in result.output
    assert '"items"' not in runner.invoke(app, ["lists", "list", "--json"]).output
    wrong_marking = runner.invoke(
        app, ["lists", "import", str(bad).replace("bad", "x"), "--format", "csv"]
    )
    assert wrong_marking.exit_code == 2
    good = tmp_path / "good.csv"
    good.write_text(CSV)
    marking = runner.invoke(
        app, ["lists", "import", str(good), "--format", "csv", "--marking", "purple"]
    )
    assert marking.exit_code == 2 and "--marking" in marking.output
