"""Bulk import: round trip, idempotency, refusal of bad files, --skip-invalid."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.factories import make_agencies, report_record, write_jsonl
from veille.cli import app
from veille.intake.importer import ImportRefused, import_reports
from veille.store.db import Database
from veille.store.models import AuditEvent, Identifier, MediaItem, Report, ReportIdentifier
from veille.store.reports import Viewer, get_report
from veille.vocab import CountryReason, Marking, OffenceType, PlatformCategory

runner = CliRunner()


def _count(database: Database, table: type) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _table_counts(database: Database) -> dict[str, int]:
    return {
        t.__name__: _count(database, t) for t in (Report, MediaItem, Identifier, ReportIdentifier)
    }


@pytest.fixture
def agencies(database: Database) -> None:
    with database.session() as session:
        make_agencies(session)


def test_jsonl_import_round_trip_keeps_every_field(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "reports.jsonl", [report_record(n) for n in range(1, 6)])
    summary = import_reports(database, path)
    assert (summary.imported, summary.unchanged, summary.rejected) == (5, 0, 0)
    with database.session() as session:
        report = get_report(session, Viewer.administrator("t"), summary.new_report_ids[0])
        assert report.external_id == "R-000001"
        assert report.platform_category is PlatformCategory.P2P
        assert [o.offence_type for o in report.offences] == [
            OffenceType.CSAM_DISTRIBUTION,
            OffenceType.CSAM_POSSESSION,
        ]
        assert report.marking is Marking.AMBER
        assert report.received_at.isoformat() == "2020-04-02T10:00:00+00:00"
        assert (
            report.incident_at is not None
            and report.incident_at.isoformat() == "2020-03-30T06:15:00+00:00"
        )
        assert report.derived_country == "FR" and report.country_reason is CountryReason.STATED
        values = {(i.kind.value, i.value, i.platform) for i in report.identifiers}
        assert values == {
            ("email", "user.1@example.com", ""),
            ("ip", "192.0.2.2", ""),
            ("username", "peer1", "peershare"),
        }
        assert report.media[0].pdq == f"{1:064x}"
        assert report.media[1].sha256 == f"{1:064x}"
    assert _table_counts(database) == {
        "Report": 5,
        "MediaItem": 10,
        "Identifier": 15,
        "ReportIdentifier": 15,
    }


def test_shared_identifiers_are_stored_once(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    shared = {"kind": "phone", "value": "+44 7700 900123"}
    records = [report_record(n, identifiers=[shared]) for n in range(3)]
    import_reports(database, write_jsonl(tmp_path / "r.jsonl", records))
    with database.session() as session:
        values = session.scalars(select(Identifier.value)).all()
        assert values == ["+447700900123"]
        report = session.scalars(select(Report)).first()
        assert report is not None and report.derived_country == "GB"
        assert report.country_reason is CountryReason.PHONE


def test_reimporting_the_same_file_changes_nothing(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "reports.jsonl", [report_record(n) for n in range(20)])
    import_reports(database, path)
    before = _table_counts(database)
    again = import_reports(database, path)
    assert (again.imported, again.unchanged, again.rejected) == (0, 20, 0)
    assert _table_counts(database) == before


def test_same_key_with_other_content_is_refused(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    import_reports(database, write_jsonl(tmp_path / "a.jsonl", [report_record(1)]))
    changed = report_record(1, summary="Edited afterwards.")
    with pytest.raises(ImportRefused) as refused:
        import_reports(database, write_jsonl(tmp_path / "b.jsonl", [changed]))
    assert refused.value.summary.errors[0].field == "external_id"
    assert "different content" in refused.value.summary.errors[0].reason


BAD_LINES = {
    "wrong type": (report_record(2, media=[{"size_bytes": "big"}]), "media.0.size_bytes"),
    "unknown enum": (report_record(2, platform_category="fax"), "platform_category"),
    "bad country": (report_record(2, stated_country="XX"), "stated_country"),
    "bad phone": (
        report_record(2, identifiers=[{"kind": "phone", "value": "+33 12"}]),
        "identifiers.0.value",
    ),
    "naive time": (report_record(2, received_at="2020-04-01T10:00:00"), "received_at"),
    "malformed JSON": ('{"external_id": "R-2", ', "(line)"),
    "invalid UTF-8": ('{"external_id": "\udcff"}', "(encoding)"),
}


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_a_bad_line_leaves_the_database_unchanged(
    database: Database, agencies: None, tmp_path: Path, case: str
) -> None:
    bad, field = BAD_LINES[case]
    path = tmp_path / "bad.jsonl"
    with path.open("w", encoding="utf-8", errors="surrogateescape") as stream:
        for record in (report_record(1), bad, report_record(3)):
            stream.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    with pytest.raises(ImportRefused) as refused:
        import_reports(database, path)
    error = refused.value.summary.errors[0]
    assert (error.line, error.field) == (2, field)
    assert _table_counts(database) == {
        "Report": 0,
        "MediaItem": 0,
        "Identifier": 0,
        "ReportIdentifier": 0,
    }


def test_skip_invalid_keeps_good_lines_and_writes_rejects(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    lines = [report_record(1), report_record(2, stated_country="XX"), report_record(3)]
    path = write_jsonl(tmp_path / "mixed.jsonl", lines)
    summary = import_reports(database, path, skip_invalid=True)
    assert (summary.imported, summary.rejected) == (2, 1)
    assert summary.rejects_path is not None
    rejected = summary.rejects_path.read_text().splitlines()
    assert [json.loads(line)["external_id"] for line in rejected] == ["R-000002"]


def _csv_row(number: int, **overrides: str) -> dict[str, str]:
    row = {
        "external_id": f"C-{number}",
        "source": "csv-feed",
        "channel": "hotline_form",
        "reporter_kind": "public",
        "received_at": "2020-05-01T09:00:00Z",
        "incident_at": "",
        "stated_country": "DE",
        "derived_country": "",
        "platform": "Chatter",
        "platform_category": "messaging",
        "offence_types": "grooming;sextortion",
        "flags": "",
        "summary": 'Synthetic, with a comma, and "quotes"',
        "marking": "green",
        "owner_agency": "Police DE",
        "identifiers": f"email:kid{number}@example.org;username:Shadow{number}[Chatter]",
        "media": f"md5={number:032x}|file_name=a.png|size_bytes=12",
    }
    row.update(overrides)
    return row


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_import_parses_lists_identifiers_and_media(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    summary = import_reports(database, _write_csv(tmp_path / "r.csv", [_csv_row(1), _csv_row(2)]))
    assert summary.imported == 2
    with database.session() as session:
        report = get_report(session, Viewer.administrator("t"), summary.new_report_ids[0])
        assert {o.offence_type.value for o in report.offences} == {"grooming", "sextortion"}
        assert {(i.kind.value, i.value, i.platform) for i in report.identifiers} == {
            ("email", "kid1@example.org", ""),
            ("username", "shadow1", "chatter"),
        }
        assert report.media[0].md5 == f"{1:032x}" and report.media[0].size_bytes == 12
        assert report.summary == 'Synthetic, with a comma, and "quotes"'


def test_truncated_csv_is_refused_with_its_line(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    path = _write_csv(tmp_path / "r.csv", [_csv_row(1), _csv_row(2)])
    text = path.read_text()
    path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 40])
    with pytest.raises(ImportRefused) as refused:
        import_reports(database, path)
    assert refused.value.summary.errors[0].line == 3
    assert _count(database, Report) == 0


def test_csv_with_unknown_column_is_refused(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    row = _csv_row(1)
    row["colour"] = "blue"
    with pytest.raises(ImportRefused) as refused:
        import_reports(database, _write_csv(tmp_path / "r.csv", [row]))
    assert refused.value.summary.errors[0].field == "(header)"
    assert "colour" in refused.value.summary.errors[0].reason


def test_cli_import_prints_summary_and_exits_nonzero_on_refusal(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [report_record(n) for n in range(3)])
    result = runner.invoke(app, ["import", "reports", str(good)])
    assert result.exit_code == 0, result.output
    assert "imported 3, unchanged 0, rejected 0" in result.output
    bad = write_jsonl(tmp_path / "bad.jsonl", [report_record(9, marking="purple")])
    result = runner.invoke(app, ["import", "reports", str(bad), "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.output[result.output.index("{") :])
    assert payload["rejected"] == 1 and payload["written"] is False
    assert payload["errors"][0].startswith("line 1: marking:")
    with database.session() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert actions == ["report.import", "link.run"]  # the import links its reports (the flow)


def test_lines_without_owner_use_the_as_option(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    record = report_record(1)
    del record["owner_agency"]
    path = write_jsonl(tmp_path / "r.jsonl", [record])
    with pytest.raises(ImportRefused) as refused:
        import_reports(database, path)
    assert refused.value.summary.errors[0].field == "owner_agency"
    summary = import_reports(database, path, owner_agency="Hotline FR")
    assert summary.imported == 1


def test_sizes_beyond_the_database_range_are_refused(
    database: Database, agencies: None, tmp_path: Path
) -> None:
    record = report_record(1, media=[{"md5": "0" * 32, "size_bytes": 2**63}])
    with pytest.raises(ImportRefused) as refused:
        import_reports(database, write_jsonl(tmp_path / "r.jsonl", [record]))
    assert refused.value.summary.errors[0].field == "media.0.size_bytes"
