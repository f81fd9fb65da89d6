"""Synthetic records for tests: reserved ranges only, never real people."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from veille.store.agencies import AgencySpec, add_agency
from veille.store.models import Agency
from veille.vocab import AgencyKind


def make_agencies(session: Session) -> dict[str, Agency]:
    """Three agencies in two countries: the scenario most visibility tests need."""
    specs = [
        AgencySpec("Police FR", AgencyKind.POLICE, "FR", "cyber@police.example.org"),
        AgencySpec("Hotline FR", AgencyKind.HOTLINE, "FR", None),
        AgencySpec("Police DE", AgencyKind.POLICE, "DE", None),
    ]
    return {spec.name: add_agency(session, spec) for spec in specs}


def report_record(number: int, **overrides: Any) -> dict[str, Any]:
    """One valid import record; ``number`` makes its ids and identifiers unique."""
    record: dict[str, Any] = {
        "external_id": f"R-{number:06d}",
        "source": "test-feed",
        "channel": "bulk_import",
        "reporter_kind": "esp",
        "received_at": f"2020-04-{1 + number % 28:02d}T10:00:00Z",
        "incident_at": "2020-03-30T08:15:00+02:00",
        "stated_country": "FR",
        "platform": "PeerShare",
        "platform_category": "p2p",
        "offence_types": ["csam_distribution", "csam_possession"],
        "flags": ["hands_on_abuse"] if number % 5 == 0 else [],
        "summary": "Synthetic test report.",
        "marking": "amber",
        "owner_agency": "Police FR",
        "identifiers": [
            {"kind": "email", "value": f"User.{number}@Example.com"},
            {"kind": "ip", "value": f"192.0.2.{number % 250 + 1}"},
            {"kind": "username", "value": f"@Peer{number}", "platform": "PeerShare"},
        ],
        "media": [
            {
                "file_name": f"f{number}.jpg",
                "size_bytes": 1000 + number,
                "media_type": "image/jpeg",
                "md5": f"{number:032x}",
                "pdq": f"{number:064x}",
                "pdq_quality": 90,
            },
            {"md5": f"{number + 10**9:032x}", "sha256": f"{number:064x}"},
        ],
    }
    record.update(overrides)
    return record


def write_jsonl(path: Path, records: Iterable[dict[str, Any] | str]) -> Path:
    """Write records (dicts as JSON, strings as they are) one per line."""
    with path.open("w", encoding="utf-8") as stream:
        for record in records:
            stream.write(record if isinstance(record, str) else json.dumps(record))
            stream.write("\n")
    return path
