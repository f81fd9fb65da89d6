"""What each line of a report file means for an import: read, validated, owned, digested.

:func:`events` turns the raw records of a file into one event per line, in
file order: a prepared report, a rejected line (and why), a repeat of an
earlier line, or the CSV header. What is already in the database is
settled later, by the importer. The events are plain values, so that a
second process can produce them (see :mod:`veille.intake.import_child`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from veille.intake import readers
from veille.intake.readers import RawRecord
from veille.intake.report_rows import PreparedReport, prepare_report
from veille.intake.schema import ReportIn, region_hint

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class LineError:
    """Why one line was rejected."""

    line: int
    field: str
    reason: str
    # Set when the line names an owner agency that does not exist, so that the
    # import can say once to create the agencies first.
    unknown_agency: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


class Rejected(NamedTuple):
    """An invalid line and its errors."""

    line: int
    text: str
    errors: list[LineError]


class Header(NamedTuple):
    """The header line of a CSV file (copied to the rejects file)."""

    text: str


class Repeat(NamedTuple):
    """A line that repeats an earlier line of the same file unchanged."""

    line: int


Event = PreparedReport | Rejected | Header | Repeat


@dataclass(frozen=True)
class Owners:
    """How lines are given their owner and source: the agencies by name and the defaults."""

    agency_ids: dict[str, int]
    default_owner: int | None
    default_source: str


def _errors_from_validation(line: int, error: ValidationError) -> list[LineError]:
    found = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        if item["type"] == "identifier":
            location += ".value"
        found.append(LineError(line, location or "(record)", item["msg"]))
    return found


def validate_record(raw: RawRecord) -> ReportIn | list[LineError]:
    """The validated report of one raw line, or the reasons it is invalid."""
    if raw.error is not None:
        return [LineError(raw.line, raw.error.field, raw.error.reason)]
    assert raw.fields is not None
    try:
        return ReportIn.model_validate(raw.fields, context={"region": region_hint(raw.fields)})
    except ValidationError as error:
        return _errors_from_validation(raw.line, error)


def _open_lines(path: Path, on_progress: ProgressCallback | None) -> Iterator[bytes]:
    with path.open("rb") as stream:
        for raw in stream:
            if on_progress is not None:
                on_progress(len(raw))
            yield raw


def read_records(
    path: Path, file_format: str, on_progress: ProgressCallback | None = None
) -> Iterator[RawRecord]:
    """The raw records of a report file in ``jsonl`` or ``csv`` format."""
    lines = readers.decoded_lines(_open_lines(path, on_progress))
    if file_format == "jsonl":
        return readers.read_jsonl(lines)
    if file_format == "csv":
        return readers.read_csv(lines)
    raise ValueError(f"format: expected jsonl or csv, got {file_format!r}")


def events(records: Iterable[RawRecord], owners: Owners) -> Iterator[Event]:
    """What each line of a file means for the import, in file order.

    Validation, owner lookup, the content digest and repeats within the file
    are settled here; what is already in the database is settled by the importer.
    """
    seen_in_file: dict[tuple[str, str], str] = {}
    for raw in records:
        if raw.is_header:
            yield Header(raw.text)
            continue
        result = validate_record(raw)
        if isinstance(result, list):
            yield Rejected(raw.line, raw.text, result)
            continue
        record_source = result.source or owners.default_source
        if result.owner_agency is not None:
            record_owner = owners.agency_ids.get(result.owner_agency.strip())
        else:
            record_owner = owners.default_owner
        if record_owner is None:
            reason = (
                f"no agency named {result.owner_agency!r}"
                if result.owner_agency
                else "no owning agency: name one in the line or pass --as AGENCY"
            )
            unknown = result.owner_agency.strip() if result.owner_agency else None
            error = LineError(raw.line, "owner_agency", reason, unknown)
            yield Rejected(raw.line, raw.text, [error])
            continue
        digest = result.content_sha256()
        key = (record_source, result.external_id)
        earlier = seen_in_file.get(key)
        if earlier is not None:
            if earlier == digest:
                yield Repeat(raw.line)
            else:
                reason = (
                    f"{result.external_id!r} appears earlier in the file with different content"
                )
                yield Rejected(raw.line, raw.text, [LineError(raw.line, "external_id", reason)])
            continue
        if len(seen_in_file) < 5_000_000:
            seen_in_file[key] = digest
        yield prepare_report(
            result,
            source=record_source,
            digest=digest,
            owner_id=record_owner,
            line=raw.line,
            text=raw.text,
        )
