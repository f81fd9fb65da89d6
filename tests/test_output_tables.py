"""Tables in an 80-column terminal fold long text and never cut ids or dates."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.factories import make_agencies, report_record, write_jsonl
from veille import output
from veille.cli import app
from veille.intake.importer import import_reports
from veille.store.db import Database

runner = CliRunner()


def test_reports_list_at_80_columns_shows_every_id_and_date_whole(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with database.session() as session:
        make_agencies(session)
    path = write_jsonl(tmp_path / "reports.jsonl", [report_record(n) for n in range(1, 4)])
    import_reports(database, path)
    monkeypatch.setattr(output.console, "width", 80)
    result = runner.invoke(app, ["reports", "list", "--all-agencies"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    for day in ("2020-04-02T10:00:00Z", "2020-04-03T10:00:00Z", "2020-04-04T10:00:00Z"):
        assert day in result.stdout
    assert "Police" in result.stdout
