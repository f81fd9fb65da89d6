"""Help reads as a person expects: no ``<bool>`` after flags, no ``<list[...]>`` types."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from veille.cli import app

runner = CliRunner()


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


@pytest.mark.parametrize(
    "path", _command_paths(typer.main.get_command(app)), ids=lambda p: " ".join(p) or "veille"
)
def test_help_shows_no_python_type_names(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.stdout
    assert "<list[" not in result.stdout


def test_repeatable_values_show_one_value_type() -> None:
    hash_help = runner.invoke(app, ["hash", "--help"], env={"COLUMNS": "200"}).stdout
    assert "<path>..." in hash_help and "paths..." in hash_help
    match_help = runner.invoke(app, ["match", "--help"], env={"COLUMNS": "200"}).stdout
    assert "--report" in match_help and "<int>" in match_help
