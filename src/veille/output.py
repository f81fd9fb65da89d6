"""Rendering for the CLI: rich tables for people, JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

console = Console()
error_console = Console(stderr=True)


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


def print_table(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Print rows as a table with the given columns."""
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    console.print(table)


def _cell(value: Any) -> str:
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

    error_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)
