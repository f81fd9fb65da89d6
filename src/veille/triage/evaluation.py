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
from veille.store.models import Report, ReportFlagRow, ReportShare
from veille.synth.truth import (
    LEVELS,
    bcubed_recall_ceiling,
    evidence_groups,
    read_cases,
    read_cued_reports,
    read_evidence,
    read_link_evidence,
)
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
    clear: set[int]
    shared_with: dict[int, set[int]]
    """Report → the agencies its owner shared it with."""
    risk_flagged: set[int]
    cluster_of: dict[int, int]
    alert_pairs: set[tuple[int, int, int]]
    """(cluster, agency, other agency) with agency < other agency."""
    queue: list[int] = field(default_factory=list)
    """Scored reports in queue order: band, score (highest first), due time, id."""


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
        shared_with: dict[int, set[int]] = defaultdict(set)
        for report_id, agency_id in session.execute(
            select(ReportShare.report_id, ReportShare.agency_id)
        ):
            shared_with[report_id].add(agency_id)
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
                    TriageScore.score.desc(),
                    TriageScore.due_at,
                    TriageScore.report_id,
                )
            )
        )
    return SystemOutput(
        report_ids={row.external_id: row.id for row in rows},
        owner={row.id: row.owner_agency_id for row in rows},
        red={row.id for row in rows if row.marking == Marking.RED},
        received_at={row.id: row.received_at for row in rows},
        clear={row.id for row in rows if row.marking == Marking.CLEAR},
        shared_with=dict(shared_with),
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
    permitted: dict[str, list[int]]
    """The groups again, with evidence joining only reports the markings let a linker join."""
    cued: list[bool]
    """Whether each report carries a cue a reader could see."""


def _partition(output: SystemOutput, report: int) -> tuple[str, int]:
    """What a report may be linked with: every shareable report, or its owner's red ones."""
    return ("red", output.owner[report]) if report in output.red else ("shareable", 0)


def _offenders(folder: Path, output: SystemOutput) -> list[_Offender]:
    """Offenders with the ids of their imported reports (reports not imported left out).

    ``permitted`` recomputes the evidence groups so that a chain of evidence
    never passes between a TLP:RED report and a report of another partition
    (another owner's, or any shareable one): the linker must never join
    those, so they bound what it can reach.
    """
    keys = read_link_evidence(folder)
    cued = read_cued_reports(folder)
    found = []
    for line in read_evidence(folder):
        kept = [i for i, report in enumerate(line.reports) if report in output.report_ids]
        ids = [output.report_ids[line.reports[i]] for i in kept]
        found.append(
            _Offender(
                line.offender,
                ids,
                {level: [labels[i] for i in kept] for level, labels in line.groups.items()},
                evidence_groups(
                    [keys.get(line.reports[i], {}) for i in kept],
                    [_partition(output, r) for r in ids],
                ),
                [line.reports[i] in cued for i in kept],
            )
        )
    return found


def _visible(output: SystemOutput, report: int, agency: int) -> bool:
    """Whether ``agency`` may see ``report`` (as ``veille.store.visibility`` decides)."""
    return (
        output.owner[report] == agency
        or report in output.clear
        or (report not in output.red and agency in output.shared_with.get(report, ()))
    )


def evidence_readable(output: SystemOutput, evidence: int, derived: int) -> bool:
    """Whether every reader of ``derived`` may see ``evidence``: only then may a score
    stored on ``derived`` draw on it (the rule of ``evidence_readable_by_readers_of``)."""
    if evidence in output.clear:
        return True
    if derived in output.clear:
        return False
    readers = {output.owner[derived], *output.shared_with.get(derived, ())}
    return all(_visible(output, evidence, agency) for agency in readers)


def _ceiling(offenders: list[_Offender], level: str) -> float:
    """B-cubed recall over offenders' reports of the permitted groups up to ``level``."""
    total, reports = 0.0, 0
    for offender in offenders:
        n = len(offender.reports)
        total += sum(size * size / n for size in Counter(offender.permitted[level]).values())
        reports += n
    return total / reports if reports else 1.0


def _same_label_pairs(labels: Iterable[object]) -> int:
    return sum(n * (n - 1) // 2 for n in Counter(labels).values())


def linking_figures(
    output: SystemOutput, folder: Path, offenders: list[_Offender] | None = None
) -> dict[str, float]:
    """B-cubed, exact-pair recall, offenders recovered, false merges and alerts, with ceilings."""
    if offenders is None:
        offenders = _offenders(folder, output)
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
    permitted_pairs, permitted_found = 0, 0
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
        permitted_pairs += _same_label_pairs(offender.permitted["exact"])
        permitted_found += _same_label_pairs(
            zip(
                offender.permitted["exact"],
                (cluster_of[r] for r in offender.reports),
                strict=True,
            )
        )
    for offender in several:
        all_in_one = len({cluster_of[r] for r in offender.reports}) == 1
        whole += all_in_one
        if len(set(offender.permitted["media"])) == 1:
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
        "exact_pairs": float(exact_pairs),
        "exact_pairs_permitted": float(permitted_pairs),
        "exact_pair_recall_permitted": (
            permitted_found / permitted_pairs if permitted_pairs else 1.0
        ),
        "offenders_recovered": whole / max(1, len(several)),
        "recoverable_offenders_recovered": recovered_recoverable / max(1, recoverable),
        "false_merges": float(false_merges),
        "false_merge_share": false_merges / max(1, merged_clusters),
        "clusters_of_two_or_more": float(merged_clusters),
    }
    for level in LEVELS:
        figures[f"ceiling_{level}"] = bcubed_recall_ceiling(folder, level)
        figures[f"permitted_ceiling_{level}"] = _ceiling(offenders, level)
    figures["bcubed_recall_of_evidence_ceiling"] = figures["bcubed_recall"] / max(
        figures["ceiling_media"], 1e-9
    )
    figures["bcubed_recall_of_ceiling"] = figures["bcubed_recall"] / max(
        figures["permitted_ceiling_media"], 1e-9
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
            by_group[offender.permitted["media"][i]].add(output.owner[report])
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
    observable_permitted: set[int],
) -> dict[str, float]:
    precisions = [average_precision(queues[a], planted[a]) for a in planted]
    found = [r for a in planted for r in queues[a][: capacity[a]] if r in planted[a]]
    total = sum(len(p) for p in planted.values())
    return {
        "average_precision": sum(precisions) / max(1, len(precisions)),
        "recall_within_capacity": len(found) / max(1, total),
        "observable_within_capacity": len(observable.intersection(found)) / max(1, len(observable)),
        "observable_permitted_within_capacity": (
            len(observable_permitted.intersection(found)) / max(1, len(observable_permitted))
        ),
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


def _cue_reachable(output: SystemOutput, offenders: list[_Offender]) -> set[int]:
    """Reports that evidence the markings permit joins to another report carrying a cue,
    which every reader of the report may see (so a score on it may draw on that cue)."""
    reachable: set[int] = set()
    for offender in offenders:
        groups = offender.permitted["media"]
        cued_by_group: dict[int, list[int]] = defaultdict(list)
        for report, group, has in zip(offender.reports, groups, offender.cued, strict=True):
            if has:
                cued_by_group[group].append(report)
        for report, group in zip(offender.reports, groups, strict=True):
            if any(
                other != report and evidence_readable(output, other, report)
                for other in cued_by_group.get(group, ())
            ):
                reachable.add(report)
    return reachable


def triage_figures(
    output: SystemOutput,
    folder: Path,
    *,
    rng_seed: int = 0,
    capacity_factor: float = 1.0,
    offenders: list[_Offender] | None = None,
) -> dict[str, float]:
    """Per-agency average precision and recall within capacity: the scorer and the baselines.

    An agency's capacity is ``capacity_factor`` × the planted cases it holds
    (rounded up), so at 1.0 it can reach every one only if they all come first.
    Observable cases are counted twice: as the truth has them (a cue on the
    report or on a report evidence joins it to), and within markings (the
    joined report's cue counts only if evidence the markings permit joins
    them and every reader of the case's report may see it).
    """
    if offenders is None:
        offenders = _offenders(folder, output)
    reachable = _cue_reachable(output, offenders)
    planted: dict[int, set[int]] = defaultdict(set)
    observable: set[int] = set()
    observable_permitted: set[int] = set()
    for case in read_cases(folder):
        report = output.report_ids.get(case["report"])
        if report is None or report not in output.owner:
            continue
        planted[output.owner[report]].add(report)
        if case["observable"]:
            observable.add(report)
        if case["flags"] or case["text"] or report in reachable:
            observable_permitted.add(report)
    capacity = {a: max(1, math.ceil(capacity_factor * len(p))) for a, p in planted.items()}
    figures: dict[str, float] = {
        "planted_cases": float(sum(len(p) for p in planted.values())),
        "observable_cases": float(len(observable)),
        "observable_cases_permitted": float(len(observable_permitted)),
        "agencies_with_cases": float(len(planted)),
    }
    results = {
        "triage": _order_figures(
            _per_agency(output.queue, output.owner),
            planted,
            observable,
            capacity,
            observable_permitted,
        )
    }
    for name, make in baseline_orders(output, rng_seed).items():
        draws = [
            _order_figures(
                _per_agency(make(), output.owner),
                planted,
                observable,
                capacity,
                observable_permitted,
            )
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
    offenders = _offenders(folder, output)
    return {
        **linking_figures(output, folder, offenders),
        **triage_figures(
            output,
            folder,
            rng_seed=rng_seed,
            capacity_factor=capacity_factor,
            offenders=offenders,
        ),
    }
