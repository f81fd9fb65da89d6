"""The synth step of ``veille demo`` shows the planted effects beside the imported data."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from veille.demo import DemoContext, demo_steps
from veille.intake.importer import import_reports
from veille.store.agencies import ensure_agencies, load_agency_specs
from veille.store.db import Database
from veille.synth.demo import DEMO_STEPS, step_planted_effects
from veille.synth.generator import SynthResult


def test_the_demo_runs_the_synth_step_after_the_core_steps() -> None:
    steps = demo_steps()
    assert step_planted_effects in steps
    assert steps.index(step_planted_effects) >= 3  # after generate, import, volume
    assert list(DEMO_STEPS) == [step_planted_effects]


def test_planted_effects_step_reports_planted_and_measured_rates(
    small_scenario: SynthResult, database: Database, tmp_path: Path
) -> None:
    with database.session() as session:
        ensure_agencies(session, load_agency_specs(small_scenario.out / "agencies.jsonl"))
    import_reports(database, small_scenario.out / "reports.jsonl")
    context = DemoContext(tmp_path, small_scenario.out, database, Console(), 11)
    section = step_planted_effects(context)
    text = "\n".join(section.lines)
    assert "p2p_sharing: ×" in text and "(planted ×1.9)" in text
    assert "domestic_abuse" in text and "reports deferred" in text
    assert "P2P reports/week in 2019" in text
    assert "recurring offenders" in text
