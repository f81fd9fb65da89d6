"""The trends step of ``veille demo`` on a small generated scenario."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from veille.analytics.demo import step_trends
from veille.casework.demo import step_casework
from veille.core.demo import DemoContext
from veille.intake.importer import import_reports
from veille.store.agencies import ensure_agencies, load_agency_specs
from veille.store.db import Database
from veille.synth.generator import SynthOptions, generate_scenario


def test_the_trends_step_reads_a_fresh_import(database: Database, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario"
    generate_scenario(SynthOptions(out=scenario, seed=3, size="small", reports=1500, images=0))
    with database.session() as session:
        ensure_agencies(session, load_agency_specs(scenario / "agencies.jsonl"))
    import_reports(database, scenario / "reports.jsonl")
    context = DemoContext(
        folder=tmp_path, scenario=scenario, database=database, console=Console(), seed=3
    )
    step_casework(context)
    section = step_trends(context)
    text = "\n".join(section.lines)
    assert "p2p: ×" in text and "during restrictions" in text
    assert "take-down: median hours to removal baseline" in text
    assert "database use:" in text and "regular users" in text
    for chart in (
        "reports-by-category.png",
        "restrictions-vs-baseline.png",
        "p2p-change-points.svg",
    ):
        assert (tmp_path / "charts" / chart).stat().st_size > 1000
