"""The demo's closing hint works as printed, with or without ``veille`` on the PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veille.cli import app
from veille.config import get_settings
from veille.demo import closing_hint, veille_invocation

REPO = Path(__file__).resolve().parents[1]
VENV_VEILLE = Path(sys.executable).parent / "veille"


@pytest.fixture
def started_from_the_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    if not VENV_VEILLE.is_file():
        pytest.skip("no veille script beside this Python")
    monkeypatch.setattr(sys, "argv", [str(VENV_VEILLE), "demo"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")


def test_hint_names_the_venv_program_from_the_repository(
    started_from_the_venv: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert veille_invocation() == os.path.relpath(VENV_VEILLE.resolve(), REPO)


def test_hint_says_veille_when_the_path_finds_the_same_program(
    started_from_the_venv: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{VENV_VEILLE.parent}:/usr/bin:/bin")
    assert veille_invocation() == "veille"


def test_closing_hint_runs_as_printed(
    started_from_the_venv: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "demo folder"
    monkeypatch.setenv("VEILLE_DATA_DIR", str(folder))
    get_settings.cache_clear()
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    monkeypatch.setenv("VEILLE_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("VEILLE_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    hint = closing_hint(folder, database_url_was_set=True)
    done = subprocess.run(hint, shell=True, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (hint, done.stderr)
    assert "0 of 0" in done.stdout
