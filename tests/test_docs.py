"""Docs as tests: every command, option, setting and policy factor is documented.

One test per command path, so that a failure names the command. A sub-command
counts as documented when the docs write its whole path (``veille lists
import``) or list it beside its group on one line (``veille lists
import|list|export`` or ``veille agencies add`` / ``list``): the bare word
``show`` somewhere else in the docs is not enough.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from veille.cli import app
from veille.config import Settings
from veille.intake.settings import IntakeSettings
from veille.media.settings import MediaSettings

ROOT = Path(__file__).resolve().parents[1]
ROOT_COMMAND = typer.main.get_command(app)
BUILT_IN_OPTIONS = {"--help", "--install-completion", "--show-completion"}


def _documentation() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages if page.exists())


DOCS = _documentation()


def _is_group(command: Any) -> bool:
    # Typer carries its own copy of click: test the shape, not the class.
    return hasattr(command, "commands")


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    if _is_group(command):
        for name, sub in command.commands.items():
            paths.append((*prefix, name))
            paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


def _command(path: tuple[str, ...]) -> Any:
    command: Any = ROOT_COMMAND
    for name in path:
        assert _is_group(command)
        command = command.commands[name]
    return command


def is_documented(path: tuple[str, ...], docs: str) -> bool:
    """Whether ``docs`` name the command ``veille PATH`` (whole, or listed beside its group)."""
    whole = re.compile(rf"veille {re.escape(' '.join(path))}(?![\w-])")
    if whole.search(docs):
        return True
    if len(path) < 2:
        return False
    group, leaf = " ".join(path[:-1]), path[-1]
    # "veille lists import|list|export", "veille agencies add / list / import",
    # "`veille agencies add` / `list`": siblings on the same line as the group.
    listed = re.compile(
        rf"veille {re.escape(group)} `?(?:[\w-]+`?\s*[|/]\s*`?)*{re.escape(leaf)}(?![\w-])"
    )
    return any(listed.search(line) for line in docs.splitlines())


COMMANDS = _command_paths(ROOT_COMMAND)
assert len(COMMANDS) > 40, "the command tree was not found"


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(path) for path in COMMANDS])
def test_command_has_help_and_is_documented(path: tuple[str, ...]) -> None:
    command = _command(path)
    assert (command.help or command.short_help or "").strip(), (
        f"'veille {' '.join(path)}' has no help"
    )
    if _is_group(command) and not command.invoke_without_command:
        return
    assert is_documented(path, DOCS), f"'veille {' '.join(path)}' is not in README.md or docs/"


@pytest.mark.parametrize("path", [p for p in COMMANDS if not _is_group(_command(p))], ids=" ".join)
def test_every_option_is_documented(path: tuple[str, ...]) -> None:
    missing = [
        name
        for param in _command(path).params
        for name in getattr(param, "opts", [])
        if name.startswith("--")
        and name not in BUILT_IN_OPTIONS
        and f"{name}" not in DOCS
        and f"--no-{name[2:]}" not in DOCS
    ]
    assert not missing, f"'veille {' '.join(path)}': options missing from the docs: {missing}"


def test_the_check_is_not_fooled_by_a_word_used_elsewhere() -> None:
    docs = "Use `veille clusters list` to list them; show the details on the page.\n"
    assert is_documented(("clusters", "list"), docs)
    assert not is_documented(("clusters", "show"), docs)
    assert is_documented(("lists", "export"), "veille lists import|list|export|remove")
    assert is_documented(("agencies", "list"), "`veille agencies add` / `list` / `import`")
    assert not is_documented(("agencies", "show"), "`veille agencies add` / `list`\nshow")
    assert not is_documented(("link", "stop"), "veille link stoplist add")


@pytest.mark.parametrize("settings", [Settings, IntakeSettings, MediaSettings])
def test_every_setting_is_documented(settings: type) -> None:
    missing = [
        f"VEILLE_{name.upper()}"
        for name in settings.model_fields  # type: ignore[attr-defined]
        if f"VEILLE_{name.upper()}" not in DOCS
    ]
    assert not missing, f"settings missing from README.md and docs/: {missing}"


def test_core_settings_are_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"VEILLE_{name.upper()}" in readme, f"VEILLE_{name.upper()} is not in the README"


def test_every_policy_factor_is_documented() -> None:
    from veille.triage.policy import FACTORS

    text = (ROOT / "docs" / "triage.md").read_text(encoding="utf-8")
    for factor in FACTORS:
        assert f"`{factor}`" in text, factor
