"""How well linking and triage did on a synthetic scenario, scored against its truth.

The system under test (the linker, the scorer) never reads the truth; this
module reads what they stored, then reads ``truth/`` (through
``veille.synth.truth``) only to score it. The same figures serve
``bench/triage_eval.py`` (several seeds, with confidence intervals) and the
demo (one run).

Linking is scored per report with B-cubed precision and recall against the
planted offenders, beside the B-cubed recall the evidence in the reports
allows; triage by each agency's queue order against three orders computed
on the same reports: random, newest first, and the flag rule (a report
flagged ``ongoing_access``, ``self_harm_threat`` or ``live_streaming``
first, then arrival order).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from veille.linking.models import DeconflictionAlert, ReportCluster
from veille.store.db import Database
from veille.store.models import Report, ReportFlagRow
from veille.synth.truth import LEVELS, bcubed_recall_ceiling, read_cases, read_evidence
from veille.triage.models import TriageScore
from veille.vocab import Marking, ReportFlag

RISK_FLAGS = frozenset(
    {ReportFlag.ONGOING_ACCESS, ReportFlag.SELF_HARM_THREAT, ReportFlag.LIVE_STREAMING}
)
"""The flags of the three risk states: the flag rule puts reports carrying one first."""

ORDERS = ("triage", "random", "newest_first", "flag_rule")
"""The queue orders compared: the scorer's, then the three baselines."""

RANDOM_ORDERS = 20
"""Random orders drawn per run; the random baseline is their mean."""


@dataclass
class SystemOutput:
    """What linking and scoring stored, read back from the database."""

    report_ids: dict[str, int]
    owner: dict[int, int]
    red: set[int]
    received_at: dict[int, datetime]
    risk_flagged: set[int]
    cluster_of: dict[int, int]
    alert_pairs: set[tuple[int, int, int]]
    """(cluster, agency, other agency) with agency < other agency."""
    queue: list[int] = field(default_factory=list)
    """Scored reports in queue order: band, due time, score (highest first), id."""


def read_system_output(database: Database) -> SystemOutput:
    """Read reports, clusters, alerts and the queue order from ``database``."""
    with database.session() as session:
        rows = session.execute(
            select(Report.id, Report.external_id, Report.owner_agency_id, Report.marking)
            .add_columns(Report.received_at)
            .order_by(Report.id)
        ).all()
        risk_flagged = set(
            session.scalars(
                select(ReportFlagRow.report_id)
                .where(ReportFlagRow.flag.in_(sorted(RISK_FLAGS)))
                .distinct()
            )
        )
        cluster_of = dict(
            session.execute(select(ReportCluster.report_id, ReportCluster.cluster_id)).all()
        )
        alert_pairs = {
            (cluster, min(a, b), max(a, b))
            for cluster, a, b in session.execute(
                select(
                    DeconflictionAlert.cluster_id,
                    DeconflictionAlert.agency_id,
                    DeconflictionAlert.other_agency_id,
                ).where(DeconflictionAlert.other_disclosed.is_(True))
            )
        }
        queue = list(
            session.scalars(
                select(TriageScore.report_id).order_by(
                    TriageScore.band,
                    TriageScore.due_at,
                    TriageScore.score.desc(),
                    TriageScore.report_id,
                )
            )
        )
    return SystemOutput(
        report_ids={row.external_id: row.id for row in rows},
        owner={row.id: row.owner_agency_id for row in rows},
        red={row.id for row in rows if row.marking == Marking.RED},
        received_at={row.id: row.received_at for row in rows},
        risk_flagged=risk_flagged,
        cluster_of=cluster_of,
        alert_pairs=alert_pairs,
        queue=queue,
    )


# -- linking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Offender:
    name: str
    reports: list[int]
    groups: dict[str, list[int]]


def _offenders(folder: Path, report_ids: dict[str, int]) -> list[_Offender]:
    """Offenders with the ids of their imported reports (reports not imported left out)."""
    found = []
    for line in read_evidence(folder):
        kept = [i for i, report in enumerate(line.reports) if report in report_ids]
        found.append(
            _Offender(
                line.offender,
                [report_ids[line.reports[i]] for i in kept],
                {level: [labels[i] for i in kept] for level, labels in line.groups.items()},
            )
        )
    return found


def _same_label_pairs(labels: Iterable[object]) -> int:
    return sum(n * (n - 1) // 2 for n in Counter(labels).values())


def linking_figures(output: SystemOutput, folder: Path) -> dict[str, float]:
    """B-cubed, exact-pair recall, offenders recovered, false merges and alerts, with ceilings."""
    offenders = _offenders(folder, output.report_ids)
    offender_of = {r: o.name for o in offenders for r in o.reports}
    cluster_of = {r: output.cluster_of.get(r, -r) for r in output.owner}
    members: dict[int, list[int]] = defaultdict(list)
    for report, cluster in cluster_of.items():
        members[cluster].append(report)
    truth_of = {r: offender_of.get(r, f"one-off:{r}") for r in output.owner}
    cells = Counter((cluster_of[r], truth_of[r]) for r in output.owner)
    precision = sum(
        cells[(cluster_of[r], truth_of[r])] / len(members[cluster_of[r]]) for r in truth_of
    )
    sizes = Counter(truth_of.values())
    recall, offender_reports, exact_pairs, exact_found = 0.0, 0, 0, 0
    whole, recoverable, recovered_recoverable = 0, 0, 0
    several = [o for o in offenders if len(o.reports) >= 2]
    for offender in offenders:
        for report in offender.reports:
            recall += cells[(cluster_of[report], offender.name)] / sizes[offender.name]
            offender_reports += 1
        exact_pairs += _same_label_pairs(offender.groups["exact"])
        exact_found += _same_label_pairs(
            zip(offender.groups["exact"], (cluster_of[r] for r in offender.reports), strict=True)
        )
    for offender in several:
        all_in_one = len({cluster_of[r] for r in offender.reports}) == 1
        whole += all_in_one
        if len(set(offender.groups["media"])) == 1:
            recoverable += 1
            recovered_recoverable += all_in_one
    false_merges, merged_clusters = 0, 0
    for reports in members.values():
        if len(reports) < 2:
            continue
        merged_clusters += 1
        held = {offender_of.get(r) for r in reports}
        if len(held - {None}) >= 2 or (len(held - {None}) == 1 and None in held):
            false_merges += 1
    figures = {
        "reports": float(len(output.owner)),
        "offenders": float(len(several)),
        "bcubed_precision": precision / max(1, len(truth_of)),
        "bcubed_recall": recall / max(1, offender_reports),
        "exact_pair_recall": exact_found / exact_pairs if exact_pairs else 1.0,
        "offenders_recovered": whole / max(1, len(several)),
        "recoverable_offenders_recovered": recovered_recoverable / max(1, recoverable),
        "false_merges": float(false_merges),
        "false_merge_share": false_merges / max(1, merged_clusters),
        "clusters_of_two_or_more": float(merged_clusters),
    }
    for level in LEVELS:
        figures[f"ceiling_{level}"] = bcubed_recall_ceiling(folder, level)
    figures["bcubed_recall_of_ceiling"] = figures["bcubed_recall"] / max(
        figures["ceiling_media"], 1e-9
    )
    figures.update(_alert_figures(output, offenders, cluster_of))
    return figures


def _alert_figures(
    output: SystemOutput, offenders: list[_Offender], cluster_of: dict[int, int]
) -> dict[str, float]:
    """Alerts per pair of agencies: right when that cluster holds one offender's reports at both."""
    true_pairs: set[tuple[str, int, int]] = set()
    reachable: set[tuple[str, int, int]] = set()
    held: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for offender in offenders:
        visible = [(i, r) for i, r in enumerate(offender.reports) if r not in output.red]
        agencies = sorted({output.owner[r] for _, r in visible})
        true_pairs.update((offender.name, a, b) for a in agencies for b in agencies if a < b)
        by_group: dict[int, set[int]] = defaultdict(set)
        for i, report in visible:
            by_group[offender.groups["media"][i]].add(output.owner[report])
            held[cluster_of[report]][offender.name].add(output.owner[report])
        for group in by_group.values():
            reachable.update((offender.name, a, b) for a in group for b in group if a < b)
    correct = sum(
        1
        for cluster, a, b in output.alert_pairs
        if any(a in agencies and b in agencies for agencies in held[cluster].values())
    )
    found = {
        (name, a, b)
        for cluster, a, b in output.alert_pairs
        for name, agencies in held[cluster].items()
        if a in agencies and b in agencies
    }
    return {
        "alert_pairs": float(len(output.alert_pairs)),
        "alert_precision": correct / len(output.alert_pairs) if output.alert_pairs else 1.0,
        "alert_recall": len(found & true_pairs) / len(true_pairs) if true_pairs else 1.0,
        "alert_recall_ceiling": len(reachable) / len(true_pairs) if true_pairs else 1.0,
        "false_alert_share": 1 - correct / len(output.alert_pairs) if output.alert_pairs else 0.0,
    }


# -- triage ----------------------------------------------------------------------------


def _per_agency(order: Iterable[int], owner: dict[int, int]) -> dict[int, list[int]]:
    queues: dict[int, list[int]] = defaultdict(list)
    for report in order:
        queues[owner[report]].append(report)
    return queues


def average_precision(queue: list[int], relevant: set[int]) -> float:
    """Mean, over the relevant reports, of the precision of the queue down to each one."""
    hits, total = 0, 0.0
    for position, report in enumerate(queue, start=1):
        if report in relevant:
            hits += 1
            total += hits / position
    return total / len(relevant) if relevant else 0.0


def _order_figures(
    queues: dict[int, list[int]],
    planted: dict[int, set[int]],
    observable: set[int],
    capacity: dict[int, int],
) -> dict[str, float]:
    precisions = [average_precision(queues[a], planted[a]) for a in planted]
    found = [r for a in planted for r in queues[a][: capacity[a]] if r in planted[a]]
    total = sum(len(p) for p in planted.values())
    return {
        "average_precision": sum(precisions) / max(1, len(precisions)),
        "recall_within_capacity": len(found) / max(1, total),
        "observable_within_capacity": len(observable.intersection(found)) / max(1, len(observable)),
    }


def baseline_orders(output: SystemOutput, rng_seed: int) -> dict[str, Callable[[], list[int]]]:
    """The three baselines over the scored reports: random, newest first, the flag rule."""
    scored = sorted(output.queue)
    arrival = sorted(scored, key=lambda r: (output.received_at[r], r))
    generator = random.Random(rng_seed)

    def shuffled() -> list[int]:
        order = list(scored)
        generator.shuffle(order)
        return order

    return {
        "random": shuffled,
        "newest_first": lambda: arrival[::-1],
        "flag_rule": lambda: sorted(arrival, key=lambda r: r not in output.risk_flagged),
    }


def triage_figures(
    output: SystemOutput, folder: Path, *, rng_seed: int = 0, capacity_factor: float = 1.0
) -> dict[str, float]:
    """Per-agency average precision and recall within capacity: the scorer and the baselines.

    An agency's capacity is ``capacity_factor`` × the planted cases it holds
    (rounded up), so at 1.0 it can reach every one only if they all come first.
    """
    planted: dict[int, set[int]] = defaultdict(set)
    observable: set[int] = set()
    for case in read_cases(folder):
        report = output.report_ids.get(case["report"])
        if report is None or report not in output.owner:
            continue
        planted[output.owner[report]].add(report)
        if case["observable"]:
            observable.add(report)
    capacity = {a: max(1, math.ceil(capacity_factor * len(p))) for a, p in planted.items()}
    figures: dict[str, float] = {
        "planted_cases": float(sum(len(p) for p in planted.values())),
        "observable_cases": float(len(observable)),
        "agencies_with_cases": float(len(planted)),
    }
    results = {
        "triage": _order_figures(
            _per_agency(output.queue, output.owner), planted, observable, capacity
        )
    }
    for name, make in baseline_orders(output, rng_seed).items():
        draws = [
            _order_figures(_per_agency(make(), output.owner), planted, observable, capacity)
            for _ in range(RANDOM_ORDERS if name == "random" else 1)
        ]
        results[name] = {key: sum(d[key] for d in draws) / len(draws) for key in draws[0]}
    for name, values in results.items():
        for key, value in values.items():
            figures[f"{name}_{key}"] = value
    figures["ap_gain_over_flag_rule"] = (
        figures["triage_average_precision"] - figures["flag_rule_average_precision"]
    )
    return figures


def evaluate_run(
    database: Database, folder: Path, *, rng_seed: int = 0, capacity_factor: float = 1.0
) -> dict[str, float]:
    """Every linking and triage figure of one run on the scenario in ``folder``."""
    output = read_system_output(database)
    return {
        **linking_figures(output, folder),
        **triage_figures(output, folder, rng_seed=rng_seed, capacity_factor=capacity_factor),
    }
