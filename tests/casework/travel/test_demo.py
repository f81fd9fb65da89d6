"""The travel-watch step of ``veille demo`` on a scenario folder of its own."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from veille.casework.travel.demo import step_travel_watch
from veille.core.demo import DemoContext
from veille.store.db import Database


def _lines(path: Path, lines: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def test_the_demo_matches_the_scenario_and_scores_it_against_the_truth(
    database: Database, tmp_path: Path
) -> None:
    person = {"given_name": "Thomas", "family_name": "Bernard", "date_of_birth": "1965-11-02"}
    _lines(
        tmp_path / "watchlist.jsonl",
        [
            {
                "watch_id": "WL-000001",
                **person,
                "nationality": "FR",
                "legal_basis": "court order following conviction (synthetic)",
                "issuing_country": "FR",
                "valid_until": "2025-12-31",
            }
        ],
    )
    trip = {"nationality": "FR", "departure_country": "FR", "destination_country": "TH"}
    _lines(
        tmp_path / "travel-notices.jsonl",
        [
            {"notice_id": "TN-1", **person, **trip, "departure_at": "2021-02-01T10:00:00+01:00"},
            {
                "notice_id": "TN-2",
                **person,
                "given_name": "T.",
                **trip,
                "departure_at": "2021-03-01T10:00:00+01:00",
            },
            {
                "notice_id": "TN-3",
                **person,
                "date_of_birth": "1979-04-23",
                **trip,
                "departure_at": "2021-03-02T10:00:00+01:00",
            },
        ],
    )
    truth = {
        "travel": {
            "true_matches": [
                {"notice": "TN-1", "watch_id": "WL-000001", "variation": "exact"},
                {"notice": "TN-2", "watch_id": "WL-000001", "variation": "initial"},
            ]
        }
    }
    (tmp_path / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    context = DemoContext(
        folder=tmp_path,
        scenario=tmp_path,
        database=database,
        console=Console(file=io.StringIO()),
        seed=1,
    )
    section = step_travel_watch(context)
    assert section is not None
    assert "matched as on 2021-03-02: 2 alerts from 3 notices" in section.lines[1]
    assert "precision 1.000, recall 1.000 (exact 1.000, initial 1.000)" in section.lines[2]
    assert context.results["travel"]["correct"] == 2


def test_the_demo_step_is_skipped_without_the_files(database: Database, tmp_path: Path) -> None:
    context = DemoContext(tmp_path, tmp_path, database, Console(file=io.StringIO()), seed=1)
    assert step_travel_watch(context) is None
