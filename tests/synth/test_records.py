"""Every generated record passes the import validation and imports on both engines."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.synth.conftest import read_lines
from veille.intake.importer import import_reports, validate_record
from veille.intake.readers import read_jsonl
from veille.store.agencies import ensure_agencies, load_agency_specs
from veille.store.db import Database
from veille.store.models import Identifier, MediaItem, Report
from veille.synth.generator import SynthResult


def test_every_report_line_validates(small_scenario: SynthResult) -> None:
    with (small_scenario.out / "reports.jsonl").open(encoding="utf-8") as stream:
        results = [validate_record(raw) for raw in read_jsonl(stream)]
    errors = [r for r in results if isinstance(r, list)]
    assert errors == []
    assert len(results) == small_scenario.counts["reports"]


def test_scenario_imports_with_the_normal_commands(
    small_scenario: SynthResult, database: Database
) -> None:
    with database.session() as session:
        created, _ = ensure_agencies(
            session, load_agency_specs(small_scenario.out / "agencies.jsonl")
        )
    assert created == small_scenario.counts["agencies"] >= 30
    summary = import_reports(database, small_scenario.out / "reports.jsonl")
    assert summary.rejected == 0
    assert summary.imported == small_scenario.counts["reports"]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == summary.imported
        media = session.scalar(select(func.count()).select_from(MediaItem))
        assert media == small_scenario.counts["media_items"]
        countries = session.scalar(select(func.count(func.distinct(Report.derived_country))))
        assert countries is not None and countries >= 30
        assert session.scalar(select(func.count()).select_from(Identifier)) > 1000
    # A second import of the same file changes nothing (stable external ids).
    again = import_reports(database, small_scenario.out / "reports.jsonl")
    assert (again.imported, again.unchanged) == (0, summary.imported)


def test_agencies_cover_thirty_countries_and_every_kind(small_scenario: SynthResult) -> None:
    agencies = read_lines(small_scenario.out / "agencies.jsonl")
    kinds = {a["kind"] for a in agencies}
    assert kinds == {"police", "hotline", "esp", "ngo", "intelligence"}
    assert len({a["country"] for a in agencies if a["kind"] == "police"}) >= 30


def test_truth_names_links_waves_and_priorities_that_exist(small_scenario: SynthResult) -> None:
    out = small_scenario.out
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    report_ids = {r["external_id"] for r in read_lines(out / "reports.jsonl")}
    links = read_lines(out / "truth/links.jsonl")
    assert links and {link["report"] for link in links} <= report_ids
    offenders = {o["id"]: o for o in read_lines(out / "truth/offenders.jsonl")}
    assert {link["offender"] for link in links} == set(offenders)
    assert sum(o["reports"] for o in offenders.values()) == len(links)
    assert truth["high_priority"] and {h["report"] for h in truth["high_priority"]} <= report_ids
    assert truth["viral_waves"] and all(w["reports"] > 0 for w in truth["viral_waves"])
    media = read_lines(out / "truth/media.jsonl")
    assert len(media) == small_scenario.counts["media_items"]
    assert {m["status"] for m in media} == {"known", "new_version", "new"}
    assert {m["report"] for m in media} <= report_ids
    for key, path in truth["files"].items():
        for name in path if isinstance(path, list) else [path]:
            assert (out / name).exists(), key


def test_other_record_files_are_json_lines_with_their_fields(small_scenario: SynthResult) -> None:
    out = small_scenario.out
    expected = {
        "takedowns.jsonl": {"notice_id", "report_external_id", "provider_agency", "url", "sent_at"},
        "usage-events.jsonl": {"event_id", "agency", "user", "action", "items", "at"},
        "questionnaire-answers.jsonl": {"questionnaire_id", "agency", "country", "answers"},
        "watchlist.jsonl": {"watch_id", "given_name", "family_name", "date_of_birth"},
        "travel-notices.jsonl": {"notice_id", "given_name", "family_name", "departure_at"},
        "school-incidents.jsonl": {"incident_id", "country", "school", "kind", "occurred_at"},
    }
    for name, fields in expected.items():
        lines = read_lines(out / name)
        assert lines, name
        assert fields <= set(lines[0]), name


def test_hash_lists_read_with_the_media_capability_parsers(small_scenario: SynthResult) -> None:
    formats = pytest.importorskip("veille.media.listformats")
    folder = small_scenario.out / "hashlists"
    known = small_scenario.counts["known_items"]
    csv_entries = formats.parse_list((folder / "known-content.csv").read_text(), "csv")
    vics_entries = formats.parse_list((folder / "known-content.vics.json").read_text(), "vics")
    te_entries = formats.parse_list((folder / "known-content.pdq.txt").read_text(), "te")
    assert len(csv_entries) == len(vics_entries) == known
    assert 0.8 * known < len(te_entries) <= known  # videos have no PDQ hash
    assert csv_entries[0].md5 == vics_entries[0].md5
    assert csv_entries[0].series == vics_entries[0].series == "series-00000"
