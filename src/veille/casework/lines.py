"""Reading JSON Lines files for casework's imports: every line checked, problems by line and field.

Each import reads the whole file through :func:`checked_lines` before writing
anything; a file with any problem raises
:class:`~veille.casework.errors.ImportRefused` and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from veille.casework.errors import ImportRefused, LineProblem
from veille.core.params import IsoTime

M = TypeVar("M", bound=BaseModel)
MAX_LINE_BYTES = 1_000_000


AwareTime = IsoTime
"""An ISO 8601 time that names its time zone."""


def problems_of(error: ValidationError, line: int) -> list[LineProblem]:
    """One problem per pydantic error, the field as a dotted path."""
    found = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(line)"
        reason = item["msg"].removeprefix("Value error, ")
        found.append(LineProblem(line, where, reason))
    return found


def checked_lines(path: Path, model: type[M]) -> Iterator[tuple[int, M | None, list[LineProblem]]]:
    """Each non-blank line of ``path``: its number, the parsed record (or None) and its problems."""
    try:
        stream = path.open("rb")
    except OSError as error:
        raise ImportRefused(
            [LineProblem(0, "file", f"cannot be read ({error.strerror})")]
        ) from None
    with stream:
        for number, raw in enumerate(stream, start=1):
            if len(raw) > MAX_LINE_BYTES:
                yield number, None, [LineProblem(number, "(line)", "longer than 1,000,000 bytes")]
                continue
            if not raw.strip():
                continue
            try:
                data: Any = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                yield number, None, [LineProblem(number, "(line)", f"not JSON ({error})")]
                continue
            if not isinstance(data, dict):
                yield number, None, [LineProblem(number, "(line)", "expected a JSON object")]
                continue
            try:
                yield number, model.model_validate(data), []
            except ValidationError as error:
                yield number, None, problems_of(error, number)


def read_lines(path: Path, model: type[M]) -> tuple[list[tuple[int, M]], list[LineProblem]]:
    """The well-formed records of ``path`` and the problems of the others.

    The caller checks the records against what is stored too, and refuses
    the file when either list of problems is not empty, so that one run
    names every problem of a file.
    """
    records: list[tuple[int, M]] = []
    problems: list[LineProblem] = []
    for number, record, found in checked_lines(path, model):
        if record is not None:
            records.append((number, record))
        problems.extend(found)
    return records, problems


def read_all(path: Path, model: type[M]) -> list[tuple[int, M]]:
    """Every record of ``path``, or :class:`ImportRefused` listing every problem."""
    records, problems = read_lines(path, model)
    if problems:
        raise ImportRefused(problems)
    return records
