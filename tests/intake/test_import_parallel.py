"""The parallel import (parsing in a second process) gives exactly what the in-process one does."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.factories import make_agencies, report_record
from veille.intake import import_child, importer
from veille.intake.importer import ImportRefused, import_reports
from veille.store.db import Database
from veille.store.models import Report


@pytest.fixture
def agencies(database: Database) -> None:
    with database.session() as session:
        make_agencies(session)


def _unsourced(number: int, **overrides: Any) -> dict[str, Any]:
    record = report_record(number, **overrides)
    del record["source"]
    return record


def _mixed_file(path: Path) -> Path:
    """Good lines, every kind of bad line, an unchanged repeat and a conflicting repeat."""
    lines: list[str] = [json.dumps(_unsourced(n)) for n in range(1, 41)]
    lines.insert(5, json.dumps(_unsourced(2, platform_category="fax")))
    lines.insert(9, '{"external_id": "R-2", ')
    lines.insert(12, '{"external_id": "\udcff"}')
    lines.insert(15, json.dumps(_unsourced(3, owner_agency="Nobody")))
    lines.append(json.dumps(_unsourced(7)))
    lines.append(json.dumps(_unsourced(8, summary="changed")))
    lines.append("")
    with path.open("w", encoding="utf-8", errors="surrogateescape") as stream:
        stream.write("\n".join(lines) + "\n")
    return path


def _stored(database: Database, source: str) -> list[tuple[Any, ...]]:
    with database.session() as session:
        reports = session.scalars(
            select(Report).where(Report.source == source).order_by(Report.external_id)
        ).all()
        return [
            (
                r.external_id,
                r.content_sha256,
                r.channel,
                r.received_at,
                r.incident_at,
                r.derived_country,
                r.country_reason,
                r.marking,
                r.owner_agency_id,
                sorted(o.offence_type for o in r.offences),
                sorted(f.flag for f in r.flags),
                sorted(repr((m.file_name, m.md5, m.sha256, m.pdq, m.size_bytes)) for m in r.media),
                sorted((i.kind, i.value, i.platform) for i in r.identifiers),
            )
            for r in reports
        ]


def test_parallel_and_in_process_imports_agree(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    path = _mixed_file(tmp_path / "mixed.jsonl")
    results = {}
    for parallel in (False, True):
        source = f"run-{parallel}"
        progress: list[int] = []
        summary = import_reports(
            database,
            path,
            source=source,
            skip_invalid=True,
            rejects_path=tmp_path / f"rejects-{parallel}.jsonl",
            on_progress=progress.append,
            parallel=parallel,
        )
        assert sum(progress) == path.stat().st_size
        assert summary.rejects_path is not None
        results[parallel] = (
            (summary.imported, summary.unchanged, summary.rejected),
            [(e.line, e.field, e.reason) for e in summary.errors],
            summary.rejects_path.read_bytes(),
            _stored(database, source),
        )
    assert results[True] == results[False]
    counts, errors, _, stored = results[True]
    assert counts == (40, 1, 5)
    assert [(line, field) for line, field, _ in errors] == [
        (6, "platform_category"),
        (10, "(line)"),
        (13, "(encoding)"),
        (16, "owner_agency"),
        (46, "external_id"),
    ]
    assert len(stored) == 40


def test_parallel_import_refuses_a_bad_file_and_writes_nothing(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    path = _mixed_file(tmp_path / "mixed.jsonl")
    with pytest.raises(ImportRefused) as refused:
        import_reports(database, path, parallel=True)
    assert refused.value.summary.rejected == 5
    with database.session() as session:
        assert session.scalars(select(Report.id)).first() is None


def test_large_files_are_parsed_in_a_second_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text("{}\n")
    assert import_child.use_child(small, None) is False
    assert import_child.use_child(small, True) is True
    monkeypatch.setattr(import_child, "PARALLEL_MIN_BYTES", 2)
    assert import_child.use_child(small, None) is ((os.cpu_count() or 1) >= 2)


def test_a_failing_parse_process_is_reported_and_nothing_is_written(
    database: Database, agencies: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _mixed_file(tmp_path / "mixed.jsonl")
    # The parsing process itself fails (here: a directory instead of a file).
    with pytest.raises(importer.ParseProcessError, match="IsADirectoryError"):
        importer.import_reports(database, tmp_path, file_format="jsonl", parallel=True)
    # The parsing process dies without a word.
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(importer.ParseProcessError, match="exit code 1"):
        import_reports(database, path, parallel=True)
    with database.session() as session:
        assert session.scalars(select(Report.id)).first() is None
