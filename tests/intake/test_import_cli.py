"""``veille import reports`` as an operator sees it: counts, hints, clean JSON, progress."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.factories import make_agencies, report_record, write_jsonl
from veille.cli import app
from veille.intake.importer import MAX_ERRORS_KEPT, import_reports
from veille.pipeline import process_new_reports
from veille.store.db import Database

runner = CliRunner()


def test_reports_before_their_agencies_count_every_error_and_say_what_to_do(
    database: Database, tmp_path: Path
) -> None:
    lines = MAX_ERRORS_KEPT + 100
    path = write_jsonl(tmp_path / "reports.jsonl", [report_record(n) for n in range(1, lines + 1)])
    result = runner.invoke(app, ["import", "reports", str(path)])
    assert result.exit_code == 1, result.output
    assert f"... and {lines - 20:,} more line errors" in result.stdout
    assert f"rejected {lines}" in result.stdout
    assert "1,100 line(s) name agencies that do not exist ('Police FR')" in result.stderr
    assert "import or add the agencies first: veille agencies import" in result.stderr


def test_import_json_is_alone_on_standard_output(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        make_agencies(session)
    path = write_jsonl(tmp_path / "reports.jsonl", [report_record(n) for n in range(1, 6)])
    result = runner.invoke(app, ["import", "reports", str(path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert (record["imported"], record["reports_scored"], record["error_count"]) == (5, 5, 0)
    assert "importing reports.jsonl" in result.stderr
    assert "scoring reports" in result.stderr


def test_unknown_agencies_in_json(database: Database, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "reports.jsonl",
        [report_record(1), report_record(2, owner_agency="Police XX")],
    )
    result = runner.invoke(app, ["import", "reports", str(path), "--json"])
    assert result.exit_code == 1
    record = json.loads(result.stdout)
    assert record["unknown_agencies"] == ["Police FR", "Police XX"]
    assert record["error_count"] == 2


def test_matching_and_scoring_after_an_import_report_their_progress(
    database: Database, tmp_path: Path
) -> None:
    with database.session() as session:
        make_agencies(session)
    path = write_jsonl(tmp_path / "reports.jsonl", [report_record(n) for n in range(1, 8)])
    summary = import_reports(database, path)
    heard: list[tuple[str, int, int | None]] = []
    processed = process_new_reports(
        database, summary.new_report_ids, lambda *step: heard.append(step)
    )
    assert processed.reports_scored == 7
    steps = list(dict.fromkeys(step for step, _, _ in heard))
    assert steps == [
        "matching media and growing content clusters",
        "linking reports",
        "scoring reports",
        "counting reports for trends",
    ]
    for step in steps:
        last = [(done, total) for name, done, total in heard if name == step][-1]
        assert last[0] == last[1]
