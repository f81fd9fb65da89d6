"""Docs as tests: every command and every setting is documented."""

from __future__ import annotations

from pathlib import Path

import click
import typer.main

from veille.cli import app
from veille.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def _documentation() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages if page.exists())


def _command_paths(command: click.Command, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(command, click.Group):
        paths = []
        for name, sub in command.commands.items():
            paths.append((*prefix, name))
            paths.extend(_command_paths(sub, (*prefix, name)))
        return paths
    return []


def test_every_command_has_help_and_is_documented() -> None:
    root = typer.main.get_command(app)
    docs = _documentation()
    undocumented = []
    for path in _command_paths(root):
        command = root
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        assert command.help or command.short_help, f"'veille {' '.join(path)}' has no help text"
        if isinstance(command, click.Group):
            continue
        if f"veille {' '.join(path)}" not in docs and not _documented_as_group(path, docs):
            undocumented.append(" ".join(path))
    assert not undocumented, f"commands missing from README.md/docs: {undocumented}"


def _documented_as_group(path: tuple[str, ...], docs: str) -> bool:
    # "veille agencies add / list / import" documents each sub-command.
    group, last = " ".join(path[:-1]), path[-1]
    return bool(group) and f"veille {group}" in docs and f"`{last}`" in docs


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"VEILLE_{name.upper()}" in readme, f"VEILLE_{name.upper()} is not in the README"
