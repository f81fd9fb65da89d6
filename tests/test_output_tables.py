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


def test_times_in_tables_are_utc_to_the_second() -> None:
    from datetime import datetime, timedelta, timezone

    from rich.console import Console

    from veille.output import print_table

    target = Console(width=80, record=True)
    when = datetime(2021, 6, 30, 19, 0, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    print_table("t", [{"id": 1, "received_at": when}], ["id", "received_at"], target)
    text = target.export_text()
    assert "2021-06-30T17:00:05Z" in text
    assert "123456" not in text and "+02:00" not in text
