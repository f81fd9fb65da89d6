"""The Veille report a finished ESP submission becomes, and the checks it must pass.

A submission is kept as the report document's fields and each file's
``fileDetails``; ``finish`` merges them into one :class:`ReportIn`. The
same check runs on ``submit`` over the report's own fields, so a report
that could never be stored is refused when it is opened, not when the
provider has sent all its files.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from veille.intake.esp.codes import ResponseCode
from veille.intake.esp.errors import EspError
from veille.intake.esp.mapping import MAX_IDENTIFIERS
from veille.intake.schema import ReportIn
from veille.vocab import Channel, ReporterKind


def source(agency_id: int) -> str:
    """The ``source`` of the reports an agency's provider credentials send."""
    return f"esp:{agency_id}"


def identifier_key(identifier: dict[str, Any]) -> tuple[str, str, str]:
    """An identifier's (kind, value, platform), the same whether read back from JSON or not."""
    return (str(identifier["kind"]), identifier["value"], identifier.get("platform", ""))


def submission_record(
    agency_id: int,
    esp_report_id: int,
    opened_at: datetime,
    fields: dict[str, Any],
    files: Sequence[Any],
    details: list[dict[str, Any] | None],
) -> ReportIn:
    """The Veille report of a finished submission: the report's fields and its files' details.

    A 4100 error naming the field when they do not make a valid report (more
    than 1,000 identifiers or files, say): ``submit`` checks the report's own
    fields this way, and ``finish`` the whole, so a report that could never
    be stored is refused instead of failing inside the server.
    """
    offences = set(fields["offence_types"])
    flags = set(fields["flags"])
    # Keyed by (kind, value, platform): merging is linear in the identifiers, and stops
    # at the first one over the limit instead of merging a million files' worth.
    identifiers = {identifier_key(i): i for i in fields["identifiers"]}
    notes = [fields["summary"]] if fields.get("summary") else []
    for detail in details:
        if detail is None:
            continue
        offences.update(detail["offences"])
        flags.update(detail["flags"])
        for identifier in detail["identifiers"]:
            identifiers.setdefault(identifier_key(identifier), identifier)
            if len(identifiers) > MAX_IDENTIFIERS:
                raise EspError(
                    ResponseCode.VALIDATION_FAILED,
                    f"report: identifiers: more than {MAX_IDENTIFIERS} with those of the files' "
                    f"fileDetails (file {detail.get('file_id')!r})",
                )
        notes.extend(detail["notes"])
    record = {
        **fields,
        "external_id": str(esp_report_id),
        "source": source(agency_id),
        "channel": Channel.ESP_API,
        "reporter_kind": ReporterKind.ESP,
        "received_at": opened_at,
        "offence_types": sorted(offences),
        "flags": sorted(flags),
        "identifiers": list(identifiers.values()),
        "summary": "\n".join(notes)[:20_000] or None,
        "media": [
            {
                "file_name": (detail or {}).get("file_name") or f.file_name,
                "size_bytes": f.size_bytes,
                "media_type": f.media_type,
                "md5": f.md5,
                "sha1": f.sha1,
                "sha256": f.sha256,
            }
            for f, detail in zip(files, details, strict=True)
        ],
    }
    try:
        return ReportIn.model_validate(record)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()[:3]
        )
        raise EspError(ResponseCode.VALIDATION_FAILED, f"report: {problems}") from None
