"""What the steps of ``veille demo`` share: their context and their printed section."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from veille.store.db import Database


@dataclass
class DemoSection:
    """What one step of the demo did, ready to print."""

    title: str
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class DemoContext:
    """What every step of the demo can use."""

    folder: Path
    scenario: Path
    database: Database
    console: Console
    seed: int
    results: dict[str, Any] = field(default_factory=dict)
    create_app: Callable[..., Any] | None = None
    """The web app factory (``veille.web.app.create_app``), given by the runner; a step
    that drives the app over HTTP is skipped without it."""


DemoStep = Callable[[DemoContext], DemoSection | None]

CLOSING_LINES = "closing_lines"
"""Key of ``DemoContext.results``: lines a step wants printed at the very end of the demo."""


def veille_invocation() -> str:
    """How to type the running ``veille`` in this shell: ``veille`` when the PATH finds
    this same program, else its path (``.venv/bin/veille`` after ``make demo``)."""
    started_as = Path(sys.argv[0])
    running = started_as if started_as.name == "veille" else Path(sys.executable).parent / "veille"
    if not running.is_file():
        return "veille"
    found = shutil.which("veille")
    if found is not None and Path(found).resolve() == running.resolve():
        return "veille"
    relative = os.path.relpath(running.resolve())
    shown = relative if not relative.startswith("..") else str(running.resolve())
    return shlex.quote(shown if "/" in shown else f"./{shown}")
