"""Every linking, triage and referral command has help and appears in the docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from veille.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def _commands(group: Any, prefix: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = [(prefix, group)]
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if _is_group(command):
            found.extend(_commands(command, path))
        else:
            found.append((path, command))
    return found


def test_every_command_is_documented_with_help() -> None:
    root = typer.main.get_command(app)
    assert _is_group(root)
    text = (DOCS / "linking.md").read_text() + (DOCS / "triage.md").read_text()
    checked = 0
    for top in ("link", "clusters", "triage", "refer"):
        group = root.commands[top]  # type: ignore[attr-defined]
        for path, command in _commands(group, f"veille {top}"):
            assert (command.help or "").strip(), f"{path} has no help"
            if _is_group(command) and path != "veille link":
                continue
            leaf = path.split()[-1]
            assert (
                path in text
                or f"{path.rsplit(' ', 1)[0]} list | {leaf}" in text
                or (f"| {leaf}" in text and path.rsplit(" ", 1)[0] in text)
            ), f"{path} is not in docs/linking.md or docs/triage.md"
            checked += 1
    assert checked >= 20


def test_every_policy_factor_is_documented() -> None:
    from veille.triage.policy import FACTORS

    text = (DOCS / "triage.md").read_text()
    for factor in FACTORS:
        assert f"`{factor}`" in text, factor
