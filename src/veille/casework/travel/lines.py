"""Watch-list entries and travel notices as they arrive: one line of CSV or JSON Lines, validated.

A bad line is reported as ``line N: field: reason``. In CSV, the list
fields take several values separated by ``;`` (``documents``) and
transliterations are written ``given|family;given|family``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
)

from veille.geo import CountryError, normalise_country

FORMATS = ("jsonl", "csv")

M = TypeVar("M", bound=BaseModel)


def _country(value: str) -> str:
    try:
        return normalise_country(value)
    except CountryError as error:
        raise ValueError(str(error)) from None


def _optional_country(value: str | None) -> str | None:
    return None if value is None or not value.strip() else _country(value)


def _blank_as_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


_NUMBER = re.compile(r"^\s*[-+]?[0-9.]+([eE][-+]?[0-9]+)?\s*$")


def _iso_text(value: Any) -> Any:
    # Lax validation would read a number as seconds since 1970; files and the API take ISO 8601.
    if isinstance(value, bool | int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("expected an ISO 8601 date (YYYY-MM-DD) or date and time")
    return value


def _text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be empty")
    return stripped


@cache
def country_codes() -> list[str]:
    """Every code :func:`veille.geo.normalise_country` reads (alpha-2, alpha-3, numeric)."""
    codes: set[str] = set()
    for country in pycountry.countries:
        codes.update((country.alpha_2, country.alpha_3, country.numeric))
    return sorted(codes)


# Text with something to read and no NUL: what _text checks, as a published pattern. White
# space is listed by code point, as regular-expression engines disagree on what \s covers.
_WHITE_SPACE = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x3001)) if c.isspace())
TEXT_PATTERN = f"^[^\\x00]*[^{_WHITE_SPACE}\\x00][^\\x00]*$"
_COUNTRIES = Field(json_schema_extra={"enum": list[JsonValue](country_codes())})
Country = Annotated[str, _COUNTRIES, AfterValidator(_country)]
OptionalCountry = Annotated[
    str | None,
    Field(json_schema_extra={"enum": [*country_codes(), None]}),
    BeforeValidator(_blank_as_none),
    AfterValidator(_optional_country),
]
Name = Annotated[str, Field(max_length=200, pattern=TEXT_PATTERN), AfterValidator(_text)]
Day = Annotated[date, BeforeValidator(_iso_text)]
OptionalDate = Annotated[date | None, BeforeValidator(_blank_as_none), BeforeValidator(_iso_text)]


class Transliteration(BaseModel):
    """Another spelling of a watch-listed person's name."""

    model_config = ConfigDict(extra="forbid")

    given_name: Name
    family_name: Name


class WatchEntryLine(BaseModel):
    """One watch-list entry (the scenario's ``watchlist.jsonl`` has these fields, documents aside)."""

    model_config = ConfigDict(extra="forbid")

    watch_id: Annotated[str, Field(max_length=100, pattern=TEXT_PATTERN), AfterValidator(_text)]
    given_name: Name
    family_name: Name
    transliterations: list[Transliteration] = Field(default_factory=list, max_length=20)
    date_of_birth: OptionalDate = None
    nationality: OptionalCountry = None
    documents: list[
        Annotated[str, Field(max_length=64, pattern=TEXT_PATTERN), AfterValidator(_text)]
    ] = Field(default_factory=list, max_length=20)
    legal_basis: Annotated[str, Field(max_length=2000, pattern=TEXT_PATTERN), AfterValidator(_text)]
    issuing_agency: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00]*$")
    """The issuing agency's name or id (else the importing command's ``--as``)."""
    issuing_country: OptionalCountry = None
    valid_until: Day

    @field_validator("transliterations", mode="before")
    @classmethod
    def _csv_transliterations(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        found = []
        for part in filter(None, (p.strip() for p in value.split(";"))):
            given, bar, family = part.partition("|")
            if not bar:
                raise ValueError(f"{part!r}: expected given|family")
            found.append({"given_name": given, "family_name": family})
        return found

    @field_validator("documents", mode="before")
    @classmethod
    def _csv_documents(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        return value

    @field_validator("issuing_agency", mode="before")
    @classmethod
    def _blank_agency(cls, value: Any) -> Any:
        return _blank_as_none(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("expected a time with its UTC offset, e.g. 2021-06-30T17:00:00+02:00")
    return value.astimezone(UTC)


class NoticeLine(BaseModel):
    """One travel notice (the scenario's ``travel-notices.jsonl``; ``document_number`` optional)."""

    model_config = ConfigDict(extra="forbid")

    notice_id: Annotated[str, Field(max_length=100, pattern=TEXT_PATTERN), AfterValidator(_text)]
    given_name: Name
    family_name: Name
    date_of_birth: OptionalDate = None
    nationality: OptionalCountry = None
    document_number: Annotated[
        Annotated[str, Field(max_length=64, pattern=r"^[^\x00]*$")] | None,
        BeforeValidator(_blank_as_none),
    ] = None
    departure_country: Country
    destination_country: Country
    departure_at: Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_aware)]


@dataclass(frozen=True)
class LineProblem:
    """Why one line was refused."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


class LinesRefused(ValueError):
    """A file with bad lines; nothing of it was written."""

    def __init__(self, problems: list[LineProblem]) -> None:
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(shown + more)


def file_format(path: Path, given: str | None) -> str:
    """``jsonl`` or ``csv``: ``given``, else from the extension."""
    if given is not None:
        if given not in FORMATS:
            raise ValueError(f"--format: expected one of {', '.join(FORMATS)}, got {given!r}")
        return given
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"{path.name}: cannot tell the format from the extension (use --format)")


def raw_lines(path: Path, fmt: str) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line (a CSV's header is line 1)."""
    with path.open(encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, {k: v for k, v in row.items() if k is not None}
            return
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as error:
                yield number, _NotJson(error.msg)


@dataclass(frozen=True)
class _NotJson:
    reason: str


def parse_lines(path: Path, model: type[M], fmt: str) -> list[tuple[int, M]]:
    """Every line of ``path`` as ``model``; raises :class:`LinesRefused` naming each bad line."""
    parsed: list[tuple[int, M]] = []
    problems: list[LineProblem] = []
    try:
        for number, value in raw_lines(path, fmt):
            problems.extend(_validate(number, value, model, parsed))
    except UnicodeDecodeError as error:
        problems.append(LineProblem(0, "(file)", f"not UTF-8 ({error.reason})"))
    except csv.Error as error:
        problems.append(LineProblem(0, "(file)", f"not CSV ({error})"))
    if problems:
        raise LinesRefused(problems)
    return parsed


def _validate(
    number: int, value: Any, model: type[M], parsed: list[tuple[int, M]]
) -> list[LineProblem]:
    if isinstance(value, _NotJson):
        return [LineProblem(number, "(line)", f"not JSON ({value.reason})")]
    if not isinstance(value, dict):
        return [LineProblem(number, "(line)", "expected a JSON object")]
    try:
        parsed.append((number, model.model_validate(value)))
    except ValidationError as error:
        return [
            LineProblem(
                number, ".".join(str(part) for part in problem["loc"]) or "(line)", problem["msg"]
            )
            for problem in error.errors()
        ]
    return []
