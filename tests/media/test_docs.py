"""Every media command, option and setting is documented in docs/media.md."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from typer.main import get_command

from veille.media.commands import hash_command, lists_app, match_command
from veille.media.settings import MediaSettings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "media.md").read_text()


def _options(function: Callable[..., None]) -> list[str]:
    app = typer.Typer()
    app.command()(function)
    command = get_command(app)
    return [
        name
        for param in command.params
        for name in param.opts
        if name.startswith("--")
        and name not in ("--help", "--install-completion", "--show-completion")
    ]


def test_every_command_and_option_is_documented() -> None:
    for name in ("veille hash", "veille match", "veille lists import", "veille lists list",
                 "veille lists export", "veille lists remove"):  # fmt: skip
        assert name in DOC, name
    for function in (hash_command, match_command):
        for option in _options(function):
            assert f"`{option}" in DOC or f"{option} " in DOC, option
    import_command = next(c for c in lists_app.registered_commands if c.name == "import")
    assert import_command.callback is not None
    for option in _options(import_command.callback):
        assert f"`{option}" in DOC, option


def test_every_setting_is_documented() -> None:
    for field in MediaSettings.model_fields:
        assert f"VEILLE_{field.upper()}" in DOC, field
