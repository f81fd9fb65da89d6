"""Operator mistakes in the setup print one clear line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from veille.cli import app
from veille.config import get_settings
from veille.store.db import Database

runner = CliRunner()


def _one_line_error(args: list[str], code: int) -> str:
    get_settings.cache_clear()
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_postgresql_down_names_the_url_with_its_password_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VEILLE_DATABASE_URL", "postgresql+psycopg://veille:s3cret@127.0.0.1:1/x")
    line = _one_line_error(["reports", "list", "--all-agencies"], 1)
    assert "VEILLE_DATABASE_URL" in line and "127.0.0.1:1" in line
    assert "s3cret" not in line and "***" in line
    assert "refused" in line.lower()


def test_missing_postgresql_database_is_named(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("a missing database is a PostgreSQL case")
    url = database.engine.url.set(database="veille_no_such_database", query={})
    monkeypatch.setenv("VEILLE_DATABASE_URL", url.render_as_string(hide_password=False))
    line = _one_line_error(["agencies", "list"], 1)
    assert 'database "veille_no_such_database" does not exist' in line


def test_heroku_style_postgres_url_is_accepted(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("postgres:// is a PostgreSQL URL")
    url = database.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("VEILLE_DATABASE_URL", url.replace("postgresql+psycopg://", "postgres://"))
    get_settings.cache_clear()
    result = runner.invoke(app, ["agencies", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "url", ["mysql://root:s3cret@localhost/veille", "not a url", "postgresql+nosuch://h/db"]
)
def test_unusable_database_url_is_refused_in_one_line(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEILLE_DATABASE_URL", url)
    line = _one_line_error(["agencies", "list"], 2)
    assert "VEILLE_DATABASE_URL" in line and "s3cret" not in line
    assert "sqlite:///PATH" in line


def test_data_folder_that_cannot_be_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VEILLE_DATA_DIR", str(blocker / "data"))
    for args in (["init"], ["agencies", "list"]):
        line = _one_line_error(args, 2)
        assert "VEILLE_DATA_DIR" in line and str(blocker / "data") in line


def test_sqlite_url_whose_folder_cannot_be_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VEILLE_DATABASE_URL", f"sqlite:///{blocker}/sub/veille.db")
    line = _one_line_error(["agencies", "list"], 2)
    assert "VEILLE_DATABASE_URL" in line


def test_bad_setting_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEILLE_PDQ_QUALITY_FLOOR", "abc")
    line = _one_line_error(["hash", "."], 2)
    assert line.startswith("error: VEILLE_PDQ_QUALITY_FLOOR='abc': ")
    assert "integer" in line
