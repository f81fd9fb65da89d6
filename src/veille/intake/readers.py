"""Read report files line by line: JSON Lines and CSV, with their line numbers.

The CSV columns are the fields of :class:`veille.intake.schema.ReportIn`;
list fields are separated by ``;``. ``identifiers`` items are
``kind:value`` with an optional ``[platform]`` suffix; ``media`` items are
``key=value`` pairs joined by ``|`` (keys: the fields of ``MediaIn``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CSV_COLUMNS = (
    "external_id",
    "source",
    "channel",
    "reporter_kind",
    "received_at",
    "incident_at",
    "stated_country",
    "derived_country",
    "platform",
    "platform_category",
    "offence_types",
    "flags",
    "summary",
    "marking",
    "owner_agency",
    "identifiers",
    "media",
)
CSV_REQUIRED = ("external_id", "reporter_kind", "received_at", "platform_category", "offence_types")
_LIST_COLUMNS = ("offence_types", "flags")


class FileFormatError(ValueError):
    """A problem with one line of a file, with where it is."""

    def __init__(self, line: int, field: str, reason: str) -> None:
        super().__init__(f"line {line}: {field}: {reason}")
        self.line = line
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class RawRecord:
    """One line of an input file: where it was, its raw text and its fields (or a parse error)."""

    line: int
    text: str
    fields: dict[str, Any] | None
    error: FileFormatError | None = None
    is_header: bool = False


def detect_format(path: Path) -> str:
    """``jsonl`` or ``csv`` from the file name."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"{path.name}: cannot tell the format from the extension; pass --format")


# A report nests three levels deep (report, identifiers, identifier); deeper JSON is
# not a report. Python's parser recurses once per level and fails with
# RecursionError near a thousand, so the bound is checked on the parsed value.
MAX_JSON_DEPTH = 16
# The largest integer a report holds is a database id (19 digits). Python refuses
# to convert integers of over 4,300 digits (ValueError), and converting one of
# that size costs quadratic time, so longer ones are refused before conversion.
MAX_INTEGER_DIGITS = 20


class JsonLineError(ValueError):
    """One line of JSON that cannot be read; the message says why."""


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise JsonLineError(f"a number has more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise JsonLineError(f"the number {text[:20]} is out of range")
    return number


def _no_constant(name: str) -> float:
    raise JsonLineError(f"{name} is not a JSON number")


def _depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit`` containers (iteratively: no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def load_json_line(text: str | bytes) -> Any:
    """One JSON value with bounded nesting and integer size; :class:`JsonLineError` if not.

    ``json.JSONDecodeError`` is also a :class:`ValueError`; its ``msg`` and
    ``colno`` say where the JSON is malformed.
    """
    try:
        value = json.loads(
            text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
        )
    except RecursionError:
        raise JsonLineError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    if _depth_over(value, MAX_JSON_DEPTH):
        raise JsonLineError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


_UNDECODABLE = re.compile("[\udc80-\udcff]")


def decoded_lines(stream: Iterable[bytes]) -> Iterator[str]:
    """Lines of a binary stream as text; bytes that are not UTF-8 survive as surrogates
    so that the line that holds them can be named and rejected."""
    for raw in stream:
        yield raw.decode("utf-8", errors="surrogateescape")


def _encoding_error(number: int, text: str) -> FileFormatError | None:
    if _UNDECODABLE.search(text):
        return FileFormatError(number, "(encoding)", "invalid UTF-8")
    return None


def read_jsonl(lines: Iterable[str]) -> Iterator[RawRecord]:
    """Each non-blank line of a JSON Lines stream, parsed."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        bad_encoding = _encoding_error(number, text)
        if bad_encoding is not None:
            yield RawRecord(number, text, None, bad_encoding)
            continue
        try:
            fields = load_json_line(text)
        except json.JSONDecodeError as error:
            yield RawRecord(
                number,
                text,
                None,
                FileFormatError(
                    number, "(line)", f"malformed JSON: {error.msg} at column {error.colno}"
                ),
            )
            continue
        except JsonLineError as error:
            yield RawRecord(number, text, None, FileFormatError(number, "(line)", str(error)))
            continue
        if not isinstance(fields, dict):
            yield RawRecord(
                number, text, None, FileFormatError(number, "(line)", "expected a JSON object")
            )
            continue
        yield RawRecord(number, text, fields)


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(";") if item.strip()]


def parse_csv_identifier(item: str) -> dict[str, str]:
    """``kind:value[platform]`` → identifier fields."""
    kind, sep, rest = item.partition(":")
    if not sep:
        raise ValueError(f"identifier {item!r}: expected kind:value")
    platform = ""
    if rest.endswith("]") and "[" in rest:
        rest, _, platform = rest[:-1].rpartition("[")
    return {"kind": kind.strip(), "value": rest.strip(), "platform": platform.strip()}


def parse_csv_media(item: str) -> dict[str, str]:
    """``md5=...|sha1=...`` → media fields."""
    fields: dict[str, str] = {}
    for pair in item.split("|"):
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"media {item!r}: expected key=value pairs joined by |")
        fields[key.strip()] = value.strip()
    return fields


def csv_row_to_fields(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row as the dictionary the JSON Lines format would hold."""
    fields: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or value == "":
            continue
        if key in _LIST_COLUMNS:
            fields[key] = _split(value)
        elif key == "identifiers":
            fields[key] = [parse_csv_identifier(item) for item in _split(value)]
        elif key == "media":
            fields[key] = [parse_csv_media(item) for item in _split(value)]
        else:
            fields[key] = value
    return fields


def read_csv(lines: Iterable[str]) -> Iterator[RawRecord]:
    """Each data row of a CSV stream with a header, as fields; short rows are errors."""
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        yield RawRecord(1, "", None, FileFormatError(1, "(header)", f"unreadable CSV: {error}"))
        return
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    missing = [name for name in CSV_REQUIRED if name not in header]
    if unknown or missing:
        problems = []
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        yield RawRecord(1, "", None, FileFormatError(1, "(header)", "; ".join(problems)))
        return
    yield RawRecord(1, format_csv_row(header), None, is_header=True)
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RawRecord(
                line, "", None, FileFormatError(line, "(line)", f"unreadable CSV: {error}")
            )
            return
        text = format_csv_row(values)
        if not any(value.strip() for value in values):
            continue
        bad_encoding = _encoding_error(line, text)
        if bad_encoding is not None:
            yield RawRecord(line, text, None, bad_encoding)
            continue
        if len(values) != len(header):
            yield RawRecord(
                line,
                text,
                None,
                FileFormatError(
                    line,
                    "(line)",
                    f"expected {len(header)} columns, found {len(values)} (truncated row?)",
                ),
            )
            continue
        try:
            fields = csv_row_to_fields(dict(zip(header, values, strict=True)))
        except ValueError as error:
            yield RawRecord(line, text, None, FileFormatError(line, "(line)", str(error)))
            continue
        yield RawRecord(line, text, fields)


def format_csv_row(values: list[str]) -> str:
    """One CSV row as text, as the csv module writes it."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()
