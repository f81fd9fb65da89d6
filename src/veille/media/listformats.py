"""Reading and writing hash-list files: CSV, Project VIC VICS JSON, ThreatExchange lines.

Parsers read the whole file into ``ListEntry`` values or raise
``ListFormatError`` naming the line (or JSON path) and the field, so that an
import writes nothing from a bad file.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from veille.media.signals import (
    Md5Signal,
    PdqSignal,
    Sha1Signal,
    Sha256Signal,
    SignalError,
    signal_type,
)

LIST_FORMATS = ("csv", "vics", "te")
CSV_COLUMNS = (
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "category",
    "series",
    "victim_identified",
    "offender_identified",
    "is_distributed",
    "tags",
)
HASH_FIELDS = ("md5", "sha1", "sha256", "pdq")
_VALIDATORS = {"md5": Md5Signal, "sha1": Sha1Signal, "sha256": Sha256Signal, "pdq": PdqSignal}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class ListFormatError(ValueError):
    """A hash-list file that cannot be read; the message names where and what."""


@dataclass
class ListEntry:
    """One item of a hash-list file, hashes normalised."""

    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    category: str | None = None
    series: str | None = None
    victim_identified: bool | None = None
    offender_identified: bool | None = None
    is_distributed: bool | None = None
    tags: list[str] = field(default_factory=list)
    removed: bool = False

    @property
    def item_key(self) -> str:
        """The identity of the item in its list: its strongest hash."""
        for name in ("sha256", "sha1", "md5", "pdq"):
            value = getattr(self, name)
            if value:
                return f"{name}:{value}"
        raise ValueError("a list entry needs at least one hash")


def _bool(value: Any, where: str, name: str) -> bool | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ListFormatError(
        f"{where}, field {name}: {value!r} is not a yes/no value (expected true or false)"
    )


def _hash(value: Any, where: str, name: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return _VALIDATORS[name].validate(str(value))
    except SignalError as error:
        raise ListFormatError(f"{where}, field {name}: {error}") from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _entry(values: dict[str, Any], where: str) -> ListEntry:
    entry = ListEntry(
        md5=_hash(values.get("md5"), where, "md5"),
        sha1=_hash(values.get("sha1"), where, "sha1"),
        sha256=_hash(values.get("sha256"), where, "sha256"),
        pdq=_hash(values.get("pdq"), where, "pdq"),
        category=_text(values.get("category")),
        series=_text(values.get("series")),
        victim_identified=_bool(values.get("victim_identified"), where, "victim_identified"),
        offender_identified=_bool(values.get("offender_identified"), where, "offender_identified"),
        is_distributed=_bool(values.get("is_distributed"), where, "is_distributed"),
    )
    tags = values.get("tags")
    if isinstance(tags, list):
        entry.tags = [str(tag).strip() for tag in tags if str(tag).strip()]
    elif tags:
        entry.tags = [tag.strip() for tag in str(tags).split(";") if tag.strip()]
    if not any(getattr(entry, name) for name in HASH_FIELDS):
        raise ListFormatError(f"{where}: no hash (expected at least one of md5, sha1, sha256, pdq)")
    return entry


def parse_csv(text: str) -> list[ListEntry]:
    """CSV with a header; columns from ``CSV_COLUMNS`` (others ignored), plus ``removed``."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if not set(header) & set(HASH_FIELDS):
        raise ListFormatError(
            f"line 1: header {header!r} has no hash column (expected some of {', '.join(HASH_FIELDS)})"
        )
    reader.fieldnames = header
    entries = []
    for row in reader:
        where = f"line {reader.line_num}"
        if None in row:
            raise ListFormatError(f"{where}: more fields than the {len(header)} header columns")
        entry = _entry(row, where)
        entry.removed = bool(_bool(row.get("removed"), where, "removed"))
        entries.append(entry)
    return entries


_VICS_FIELDS = {
    "md5": "MD5",
    "sha1": "SHA1",
    "sha256": "SHA256",
    "pdq": "PDQ",
    "category": "Category",
    "series": "Series",
    "victim_identified": "VictimIdentified",
    "offender_identified": "OffenderIdentified",
    "is_distributed": "IsDistributed",
    "tags": "Tags",
}


def _vics_media(document: Any) -> Iterable[tuple[str, Any]]:
    if not isinstance(document, dict) or not isinstance(document.get("value"), list):
        raise ListFormatError('VICS: expected a JSON object with a "value" array')
    for case_index, case in enumerate(document["value"]):
        if isinstance(case, dict) and isinstance(case.get("Media"), list):
            for media_index, media in enumerate(case["Media"]):
                yield f"value[{case_index}].Media[{media_index}]", media
        else:
            # VICS 2.0 puts the media objects straight into "value".
            yield f"value[{case_index}]", case


def parse_vics(text: str) -> list[ListEntry]:
    """Project VIC VICS JSON (1.x cases with ``Media`` arrays, or 2.0 flat ``value``)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ListFormatError(
            f"line {error.lineno}, column {error.colno}: not valid JSON ({error.msg})"
        ) from None
    entries = []
    for where, media in _vics_media(document):
        if not isinstance(media, dict):
            raise ListFormatError(f"{where}: expected a media object")
        values = {ours: media.get(theirs) for ours, theirs in _VICS_FIELDS.items()}
        entry = _entry(values, where)
        entry.removed = bool(_bool(media.get("Deleted"), where, "Deleted"))
        entries.append(entry)
    return entries


def parse_te(text: str) -> list[ListEntry]:
    """Lines ``<signal_type> <hash>`` (ThreatExchange / HMA); ``#`` starts a comment."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        parts = stripped.split()
        if len(parts) != 2:
            raise ListFormatError(
                f"line {number}: expected '<signal_type> <hash>' (two fields), got {len(parts)}"
            )
        try:
            kind = signal_type(parts[0])
        except SignalError as error:
            raise ListFormatError(f"line {number}, field signal_type: {error}") from None
        entries.append(_entry({kind.name: parts[1]}, f"line {number}"))
    return entries


def parse_list(text: str, list_format: str) -> list[ListEntry]:
    """Parse a hash-list file of ``list_format`` (csv, vics or te)."""
    parsers = {"csv": parse_csv, "vics": parse_vics, "te": parse_te}
    if list_format not in parsers:
        raise ListFormatError(
            f"--format: {list_format!r} is not supported (expected csv, vics or te)"
        )
    return parsers[list_format](text)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def write_csv(entries: Sequence[ListEntry]) -> str:
    """CSV with ``CSV_COLUMNS`` plus ``removed`` (tombstoned items, for partners)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "removed"])
    for e in entries:
        writer.writerow(
            [
                e.md5 or "", e.sha1 or "", e.sha256 or "", e.pdq or "", e.category or "",
                e.series or "", _yes_no(e.victim_identified), _yes_no(e.offender_identified),
                _yes_no(e.is_distributed), ";".join(e.tags), _yes_no(e.removed),
            ]
        )  # fmt: skip
    return out.getvalue()


def write_vics(entries: Sequence[ListEntry], case_name: str) -> str:
    """VICS 1.x JSON: one case holding every media item; removed items carry ``Deleted``."""
    media = []
    for number, e in enumerate(entries, start=1):
        item: dict[str, Any] = {"MediaID": number}
        for ours, theirs in _VICS_FIELDS.items():
            value = getattr(e, ours)
            if ours == "tags":
                value = ";".join(value) if value else None
            elif ours in HASH_FIELDS and value and ours != "pdq":
                value = value.upper()
            if value is not None:
                item[theirs] = value
        if e.removed:
            item["Deleted"] = True
        media.append(item)
    document = {
        "odata.metadata": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/1.3.xml/$metadata#Cases",
        "value": [{"CaseNumber": case_name, "Media": media}],
    }
    return json.dumps(document, indent=1) + "\n"


def write_te(entries: Sequence[ListEntry]) -> str:
    """``signal_type hash`` lines; removed items are written as comments ``# removed``."""
    lines = []
    for e in entries:
        for name in HASH_FIELDS:
            value = getattr(e, name)
            if value:
                prefix = "# removed " if e.removed else ""
                lines.append(f"{prefix}{name} {value}")
    return "\n".join(lines) + ("\n" if lines else "")


def write_list(entries: Sequence[ListEntry], list_format: str, name: str) -> str:
    """Serialise entries as ``list_format``."""
    if list_format == "csv":
        return write_csv(entries)
    if list_format == "vics":
        return write_vics(entries, name)
    if list_format == "te":
        return write_te(entries)
    raise ListFormatError(f"--format: {list_format!r} is not supported (expected csv, vics or te)")
