"""The evaluation of linking and triage against the truth, and the figures it guards.

The guard runs the whole chain (generate 1,500 reports, import, link, score,
evaluate) and holds its figures to those committed in
``bench/results/triage_guard.json``, so that a regression of the linker or
the scorer fails the tests; a linker that links nothing must fail it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bench import triage_eval

from veille.linking.engine import LinkRunSummary
from veille.store.db import Database
from veille.synth.generator import SynthOptions, generate_scenario
from veille.triage.evaluation import (
    SystemOutput,
    average_precision,
    linking_figures,
    triage_figures,
)


def _guard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(triage_eval.GUARD_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    guard = _guard()
    folder = tmp_path_factory.mktemp("scenario")
    generate_scenario(
        SynthOptions(out=folder, seed=guard["seed"], reports=guard["reports"], images=0)
    )
    return folder


def test_small_scenario_keeps_its_committed_figures(
    database: Database, small_scenario: Path
) -> None:
    guard = _guard()
    run = triage_eval.run_seed(database, small_scenario, seed=guard["seed"])
    assert triage_eval.guard_failures(run, guard) == [], (
        f"figures moved: re-run `{guard['command']}` if the change is meant"
    )


def test_a_linker_that_links_nothing_fails_the_guard(
    database: Database, small_scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def every_report_alone(database: Database, **_: Any) -> LinkRunSummary:
        return LinkRunSummary(elapsed_s=1e-3)

    monkeypatch.setattr(triage_eval, "link_reports", every_report_alone)
    guard = _guard()
    run = triage_eval.run_seed(database, small_scenario, seed=guard["seed"])
    failures = triage_eval.guard_failures(run, guard)
    assert any(f.startswith("bcubed_recall:") for f in failures)
    assert any(f.startswith("exact_pair_recall:") for f in failures)
    assert run["bcubed_precision"] == 1.0


def test_a_scorer_that_keeps_arrival_order_fails_the_guard(
    database: Database, small_scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from veille.triage import scoring

    def no_factor(policy: Any, signals: Any, as_of: datetime) -> scoring.Evaluation:
        band, due_hours = policy.band_for(0.0)
        return scoring.Evaluation(0.0, band, due_hours, ())

    monkeypatch.setattr(scoring, "evaluate", no_factor)
    guard = _guard()
    run = triage_eval.run_seed(database, small_scenario, seed=guard["seed"])
    failures = triage_eval.guard_failures(run, guard)
    assert any(f.startswith("triage_average_precision:") for f in failures)


# -- the measures on hand-made cases --------------------------------------------------


def test_average_precision_counts_each_planted_case_at_its_place() -> None:
    assert average_precision([1, 2, 3, 4], {1, 2}) == 1.0
    assert average_precision([3, 1, 4, 2], {1, 2}) == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert average_precision([3, 4], {1}) == 0.0


def _write_truth(
    folder: Path,
    offenders: dict[str, list[str]],
    cases: list[dict[str, Any]],
    cued: frozenset[str] = frozenset(),
) -> None:
    """Each offender's reports share one exact identifier; ``cued`` reports carry a cue."""
    (folder / "truth").mkdir(parents=True)
    with (folder / "truth" / "evidence.jsonl").open("w") as stream:
        for name, reports in offenders.items():
            groups = {
                level: [0] * len(reports)
                for level in ("exact", "variant", "person", "media", "name", "address")
            }
            stream.write(
                json.dumps({"offender": name, "reports": reports, "groups": groups}) + "\n"
            )
    with (folder / "truth" / "links.jsonl").open("w") as stream:
        for name, reports in offenders.items():
            for report in reports:
                line = {
                    "report": report,
                    "offender": name,
                    "evidence": {"exact": [f"email:{name}@example.com"]},
                    "cues": ["flag"] if report in cued else [],
                }
                stream.write(json.dumps(line) + "\n")
    with (folder / "truth" / "cases.jsonl").open("w") as stream:
        for case in cases:
            stream.write(json.dumps(case) + "\n")


def _output(
    cluster_of: dict[int, int], alerts: set[tuple[int, int, int]], red: frozenset[int] = frozenset()
) -> SystemOutput:
    when = datetime(2021, 1, 1, tzinfo=UTC)
    owner = {1: 10, 2: 20, 3: 20, 4: 30, 5: 30}
    return SystemOutput(
        report_ids={f"R{i}": i for i in owner},
        owner=owner,
        red=set(red),
        received_at={i: when.replace(day=i) for i in owner},
        clear=set(),
        shared_with={},
        risk_flagged={5},
        cluster_of=cluster_of,
        alert_pairs=alerts,
        queue=[4, 5, 1, 2, 3],
    )


def test_a_false_merge_lowers_precision_and_its_alert_is_wrong(tmp_path: Path) -> None:
    # Offender A holds R1 (agency 10) and R2 (agency 20); R3 and R4 are one-off reports.
    _write_truth(tmp_path, {"A": ["R1", "R2"]}, [])
    right = linking_figures(_output({1: 1, 2: 1}, {(1, 10, 20)}), tmp_path)
    assert right["bcubed_precision"] == 1.0
    assert right["bcubed_recall"] == 1.0
    assert right["offenders_recovered"] == 1.0
    assert (right["false_merges"], right["alert_precision"], right["alert_recall"]) == (0, 1, 1)
    wrong = linking_figures(_output({1: 1, 3: 1, 4: 4}, {(1, 10, 20)}), tmp_path)
    assert wrong["bcubed_precision"] == pytest.approx((0.5 + 0.5 + 1 + 1 + 1) / 5)
    assert wrong["bcubed_recall"] == 0.5
    assert wrong["false_merges"] == 1
    assert (wrong["alert_precision"], wrong["alert_recall"]) == (0.0, 0.0)


def test_pairs_that_markings_forbid_joining_are_counted_apart(tmp_path: Path) -> None:
    # Offender A: R2 and R3 at agency 20, R4 at agency 30; R4 is TLP:RED, so the linker
    # must never join it with the others: of the 3 exact pairs, 1 is permitted.
    _write_truth(tmp_path, {"A": ["R2", "R3", "R4"]}, [])
    figures = linking_figures(_output({2: 2, 3: 2, 4: 4}, set(), red=frozenset({4})), tmp_path)
    assert (figures["exact_pairs"], figures["exact_pairs_permitted"]) == (3, 1)
    assert figures["exact_pair_recall"] == pytest.approx(1 / 3)
    assert figures["exact_pair_recall_permitted"] == 1.0
    assert figures["permitted_ceiling_media"] < figures["ceiling_media"] == 1.0
    # Joining the red report anyway would be a false merge of markings, not a gain.
    missed = linking_figures(_output({2: 2, 3: 3, 4: 4}, set(), red=frozenset({4})), tmp_path)
    assert missed["exact_pair_recall_permitted"] == 0.0


def test_a_cue_another_agency_may_not_see_does_not_make_a_case_observable(
    tmp_path: Path,
) -> None:
    # R1 (agency 10) and R2 (agency 20) are one offender's; only R1 carries a cue. R2's
    # score may not draw on R1 (amber, not shared with 20), R3's may draw on R2 (same owner).
    case = {"offender": "A", "observable": True, "flags": [], "text": None}
    _write_truth(
        tmp_path,
        {"A": ["R1", "R2", "R3"]},
        [{**case, "report": "R2"}, {**case, "report": "R3"}],
        cued=frozenset({"R1", "R2"}),
    )
    figures = triage_figures(_output({}, set()), tmp_path)
    assert figures["observable_cases"] == 2
    assert figures["observable_cases_permitted"] == 1


def test_triage_is_compared_with_the_flag_rule_on_the_same_reports(tmp_path: Path) -> None:
    case = {"offender": None, "observable": True, "flags": ["ongoing_access"], "text": None}
    _write_truth(tmp_path, {}, [{**case, "report": "R4"}, {**case, "report": "R2"}])
    figures = triage_figures(_output({}, set()), tmp_path)
    # Queue 20 is R2, R3 (R2 first); queue 30 is R4, R5 in triage order, R5, R4 by the flag rule.
    assert figures["triage_average_precision"] == 1.0
    assert figures["triage_recall_within_capacity"] == 1.0
    assert figures["flag_rule_average_precision"] == pytest.approx((1 + 0.5) / 2)
    assert figures["flag_rule_recall_within_capacity"] == 0.5
    assert figures["newest_first_average_precision"] == pytest.approx((0.5 + 0.5) / 2)
