"""The linking and triage part of ``veille demo`` runs on imported reports and prints counts."""

from __future__ import annotations

from pathlib import Path

from tests.linking.helpers import email, import_records, make_world, record
from veille.output import to_json
from veille.store.db import Database
from veille.triage.demo import run_linking_triage_demo


def test_demo_links_scores_shows_a_queue_and_refers(database: Database, tmp_path: Path) -> None:
    make_world(database)
    import_records(
        database,
        tmp_path,
        [
            record(
                "d1",
                [email("demo@example.com")],
                flags=["ongoing_access", "hands_on_abuse"],
                derived_country="DE",
            ),
            record(
                "d2", [email("demo@example.com")], owner_agency="Police DE", stated_country="DE"
            ),
            record("d3", [], flags=["viral"]),
        ],
    )
    result = run_linking_triage_demo(database)
    assert result["linked_reports"] == 3
    assert result["case_clusters"] == 1
    assert result["deconfliction_alerts"] == 2
    assert result["by_band"]["P1"] == 1
    assert result["queue"].startswith("Police FR: 2 open (P1 1")
    assert result["queue_top"][0]["why"].startswith("hands_on_abuse +40")
    assert result["referrals_made"] == 1
    assert "referrals_total" in to_json(result)
