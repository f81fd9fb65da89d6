"""The linking and triage part of ``veille demo`` runs on imported reports and prints counts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from tests.linking.helpers import email, import_records, make_world, record
from veille.demo import DemoContext
from veille.output import to_json
from veille.store.db import Database
from veille.triage.demo import (
    run_linking_triage_demo,
    scenario_working_day_end,
    step_linking_triage,
)


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


def test_demo_reads_the_queue_at_the_end_of_the_scenarios_last_day(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("early", [], flags=["viral"], received_at="2020-03-01T09:00:00Z"),
            record(
                "last",
                [],
                flags=["hands_on_abuse", "ongoing_access"],
                received_at="2020-04-10T15:00:00Z",
            ),
        ],
    )
    end = scenario_working_day_end(database, ids.values())
    assert end == datetime(2020, 4, 10, 17, tzinfo=UTC)
    context = DemoContext(
        folder=tmp_path,
        scenario=tmp_path,
        database=database,
        console=Console(),
        seed=7,
        results={"new_report_ids": list(ids.values())},
    )
    section = step_linking_triage(context)
    queue_line = next(line for line in section.lines if line.startswith("busiest queue"))
    # Read now, both would be overdue. The demo takes the units to have handled what
    # arrived before the scenario's last week (the report of 2020-03-01), and reads the
    # queue at 17:00 on the last day, when the P1 report of 15:00 is due at 19:00.
    assert "reports received before 2020-03-11 taken as handled: 1 queue items closed" in (
        "\n".join(section.lines)
    )
    assert "Police FR at 2020-04-10T17:00Z: 1 open (P1 1, P2 0, P3 0, P4 0)" in queue_line
    assert "0 overdue, 1 due later today" in queue_line


def test_demo_scores_its_run_against_the_truth_beside_the_baselines(
    database: Database, tmp_path: Path
) -> None:
    from veille.intake.importer import import_reports
    from veille.store.agencies import ensure_agencies, load_agency_specs
    from veille.synth.generator import SynthOptions, generate_scenario
    from veille.triage.demo import step_evaluation

    scenario = tmp_path / "scenario"
    generate_scenario(SynthOptions(out=scenario, seed=3, reports=400, images=0))
    with database.session() as session:
        ensure_agencies(session, load_agency_specs(scenario / "agencies.jsonl"))
    import_reports(database, scenario / "reports.jsonl")
    context = DemoContext(tmp_path, scenario, database, Console(), seed=3)
    run_linking_triage_demo(database)
    section = step_evaluation(context)
    assert section is not None
    text = "\n".join(section.lines)
    assert "B-cubed: precision" in text
    assert "per-agency average precision: triage" in text
    assert "flag rule" in text and "newest first" in text and "random" in text
    assert step_evaluation(DemoContext(tmp_path, tmp_path / "none", database, Console(), 3)) is None
