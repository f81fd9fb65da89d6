"""Rendering for the CLI: rich tables for people, JSON for machines."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

console = Console()
error_console = Console(stderr=True)
"""Progress, warnings and errors: standard output stays for results (tables, JSON)."""


@contextmanager
def step_progress(
    stream: Console | None = None,
) -> Iterator[Callable[[str, int, int | None], None]]:
    """A ``(step, done, total)`` callback that shows one bar per step, on standard error.

    ``total`` may be ``None`` when the work's size is not known beforehand.
    """
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stream or error_console,
    )
    tasks: dict[str, TaskID] = {}

    def advance(step: str, done: int, total: int | None) -> None:
        if step not in tasks:
            tasks[step] = progress.add_task(step, total=total)
        progress.update(tasks[step], completed=done, total=total)

    with progress:
        yield advance


@contextmanager
def counting_progress(step: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """An ``on_progress(n)`` callback that adds ``n`` to one bar on standard error."""
    done = 0
    with step_progress() as on_step:
        on_step(step, 0, total)

        def advance(count: int) -> None:
            nonlocal done
            done += count
            on_step(step, done, total)

        yield advance


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(item) for item in value]
    return value


def to_json(value: Any) -> str:
    """JSON text of plain values, datetimes and enums."""
    return json.dumps(_plain(value), ensure_ascii=False, indent=2)


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on standard output (no colour, no wrapping)."""
    print(to_json(value))


_WHOLE = re.compile(r"-?\d+|cc-[0-9a-f]{16}|\d{4}-\d\d-\d\d(T[\d:.]+(Z|[+-]\d\d:\d\d)?)?")


def print_table(
    title: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    target: Console | None = None,
) -> None:
    """Print rows as a table with the given columns.

    A narrow terminal folds long text onto more lines instead of cutting it
    with "…"; ids, numbers and dates are never folded: their columns get the
    width of their longest value first, the other columns share the rest.
    """
    target = target or console
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    room = target.width - 3 * len(columns) - 1
    whole_widths: dict[int, int] = {}
    for position in range(len(columns)):
        values = [cell[position] for cell in cells if cell[position]]
        if values and all(_WHOLE.fullmatch(value) for value in values):
            whole_widths[position] = max(len(value) for value in values)
    # Leave every other column a few characters so that it can fold.
    room -= 4 * (len(columns) - len(whole_widths))
    table = Table(title=title, show_lines=False)
    for position, column in enumerate(columns):
        width = whole_widths.get(position)
        keep = width is not None and width <= room
        if keep and width is not None:
            room -= width
        table.add_column(
            column.replace("_", " "),
            overflow="fold",
            min_width=width if keep else None,
            no_wrap=keep,
        )
    for row_cells in cells:
        table.add_row(*row_cells)
    target.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        # Tables show UTC to the second: microseconds take room from the other
        # columns and tell a person nothing (--json keeps the full time).
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    plain = _plain(value)
    if plain is None:
        return ""
    if isinstance(plain, list):
        return ", ".join(str(item) for item in plain)
    if isinstance(plain, str) and "T" in plain and plain.endswith("+00:00"):
        return plain.replace("+00:00", "Z")
    return str(plain)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error for a person and exit with ``code``."""
    import typer

    # One line however narrow the terminal: scripts grep it, people copy it.
    error_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
