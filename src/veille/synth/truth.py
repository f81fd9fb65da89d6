"""What ``truth.json`` says about the planted effects, the truth files, and their readers.

Later capabilities score what they find against this file: every effect
(with the rates that came out), every country's restriction dates, and the
files that hold the per-report truth. The readers below turn the truth into
what an evaluation needs to state its ceilings: for the reports of one
offender, which evidence in the reports connects them (``pair_classes``,
``bcubed_recall_ceiling``), and which planted cases a reader could see at
all (``observable_cases``). The system under test never reads any of it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from veille.synth.config import ScenarioConfig
from veille.synth.volume import DelayedReports, StreamRates, channel_factor
from veille.synth.world import World

GENERATOR_VERSION = 3
"""2: the noisy world (hidden risk and its observation, identifier noise, named suspects, re-posts).
3: database usage drawn agency by agency, so that each planted behaviour shows in the events;
a suspect named without a date of birth is ``name`` evidence, no longer ``person``."""

LEVELS = ("exact", "variant", "person", "media", "name", "address")
"""Evidence that can connect two reports of one offender, strongest first:
``exact`` an identifier equal after the import normalisation; ``variant`` a
changed spelling of one (typo, ``+tag``, changed handle, the same handle on
another platform); ``person`` the same named suspect (any spelling) with a
date of birth on both reports; ``media`` the offender's own file again (same
bytes, or a PDQ near-duplicate); ``name`` the same named suspect where one
report or both give no date of birth (innocent namesakes share it: a lead,
not proof); ``address`` a dynamic, gateway or public Wi-Fi address (shared
with others)."""

LINK_LEVELS = ("exact", "variant", "person", "media")
"""Levels through which a cue on one report counts as visible from another."""


def stream_effect(
    world: World,
    config: ScenarioConfig,
    rates: StreamRates,
    observed: np.ndarray,
    restricted: np.ndarray,
    delayed: DelayedReports | None,
) -> dict[str, Any]:
    """The ``effects`` entry of one stream: what was planted and what came out."""
    stream = rates.stream
    before = np.zeros_like(restricted)
    for c, period in enumerate(world.restrictions):
        before[c, : max(period.start_week, 0)] = True
    entry: dict[str, Any] = {
        "stream": rates.name,
        "category": stream.category.value,
        "offences": [o.value for o in stream.offences],
        "factor_during": stream.during if stream.delayed_reporting is None else None,
        "factor_after": stream.after,
        "after_weeks": stream.after_weeks,
        "ramp_to": stream.ramp_to,
        "channel_factor": round(channel_factor(stream, config), 4),
        "reports": int(observed.sum()),
        "reports_per_week_before": round(
            float(observed[before].sum() / max(before.sum(), 1) * len(world.countries)), 2
        ),
        "reports_per_week_during": round(
            float(observed[restricted].sum() / max(restricted.sum(), 1) * len(world.countries)),
            2,
        ),
    }
    if stream.delayed_reporting is not None and delayed is not None:
        entry["true_incidence_factor_during"] = stream.incidence_during
        entry["deferred_to_after_reopening"] = stream.delayed_reporting.deferred
        entry["never_reported"] = delayed.lost
        entry["true_incidents_during"] = int(delayed.true_incidents[restricted].sum())
    return entry


def truth_document(
    options: Any, target: int, world: World, truth: dict[str, Any]
) -> dict[str, Any]:
    """``truth.json``: the scenario, its files, its countries and everything planted."""
    return {
        "generator": {"name": "veille-synth", "version": GENERATOR_VERSION},
        "scenario": {
            "seed": options.seed,
            "size": options.size if options.reports is None else None,
            "target_reports": target,
            "from": options.start.isoformat(),
            "to": options.end.isoformat(),
            "images": options.images,
        },
        "files": {
            "agencies": "agencies.jsonl",
            "reports": "reports.jsonl",
            "hash_lists": [
                "hashlists/known-content.csv",
                "hashlists/known-content.vics.json",
                "hashlists/known-content.pdq.txt",
            ],
            "images": "media/",
            "takedowns": "takedowns.jsonl",
            "usage_events": "usage-events.jsonl",
            "questionnaire": "questionnaire.json",
            "questionnaire_answers": "questionnaire-answers.jsonl",
            "watch_list": "watchlist.jsonl",
            "travel_notices": "travel-notices.jsonl",
            "school_incidents": "school-incidents.jsonl",
            "offender_links": "truth/links.jsonl",
            "media_truth": "truth/media.jsonl",
            "offenders": "truth/offenders.jsonl",
            "evidence": "truth/evidence.jsonl",
            "cases": "truth/cases.jsonl",
            "report_streams": "truth/reports.jsonl",
            "images_truth": "truth/images.jsonl",
            "settings": "scenario.yaml",
        },
        "countries": [
            {
                "code": country.code,
                "region": country.region,
                "population_m": country.population_m,
                "volume_weight": round(country.weight, 6),
                "restrictions": {
                    "start": world.week_start(period.start_week).date().isoformat(),
                    "end": world.week_start(period.end_week).date().isoformat(),
                    "schools_reopen": world.week_start(period.schools_reopen_week)
                    .date()
                    .isoformat(),
                    "travel_reopen": world.week_start(period.travel_reopen_week).date().isoformat(),
                },
            }
            for country, period in zip(world.countries, world.restrictions, strict=True)
        ],
        **truth,
    }


# -- evidence and cases: written after the parts are joined -------------------------


def evidence_groups(
    reports: list[dict[str, list[Any]]], partitions: list[Hashable] | None = None
) -> dict[str, list[int]]:
    """For each level, a group number per report: reports joined by keys of that level or stronger.

    With ``partitions`` (one value per report), a key joins only reports of the
    same partition: a chain of evidence never passes through a report of
    another (an evaluation uses this for what markings allow a linker to join).
    """
    parent = list(range(len(reports)))
    part = partitions if partitions is not None else [None] * len(reports)

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    owner: dict[tuple[Hashable, Any], int] = {}
    groups: dict[str, list[int]] = {}
    for level in LEVELS:
        for index, evidence in enumerate(reports):
            for key in evidence.get(level, ()):
                other = owner.setdefault((part[index], key), index)
                if other != index:
                    parent[find(index)] = find(other)
        roots: dict[int, int] = {}
        groups[level] = [roots.setdefault(find(i), len(roots)) for i in range(len(reports))]
    return groups


def write_case_truth(out: Path) -> list[dict[str, Any]]:
    """Write ``truth/evidence.jsonl``, complete ``truth/cases.jsonl``; return the cases for ``truth.json``.

    Reads ``truth/links.jsonl`` once, grouped by offender (keys are kept as
    hashes: only equality matters here).
    """
    by_offender: dict[str, list[tuple[str, dict[str, list[int]], bool]]] = {}
    with (out / "truth" / "links.jsonl").open(encoding="utf-8") as stream:
        for line in stream:
            link = json.loads(line)
            evidence = {
                level: [hash(key) for key in keys] for level, keys in link["evidence"].items()
            }
            by_offender.setdefault(link["offender"], []).append(
                (link["report"], evidence, bool(link["cues"]))
            )
    linked: dict[str, tuple[str, int]] = {}
    with (out / "truth" / "evidence.jsonl").open("w", encoding="utf-8", newline="\n") as written:
        for offender, reports in sorted(by_offender.items()):
            groups = evidence_groups([evidence for _, evidence, _ in reports])
            written.write(
                json.dumps(
                    {
                        "offender": offender,
                        "reports": [report for report, _, _ in reports],
                        "groups": groups,
                    },
                    separators=(",", ":"),
                )
                + "\n"
            )
            cued = [i for i, (_, _, has_cue) in enumerate(reports) if has_cue]
            if not cued:
                continue
            for index, (report, _, _) in enumerate(reports):
                for level in LEVELS:
                    labels = groups[level]
                    count = sum(1 for i in cued if i != index and labels[i] == labels[index])
                    if count:
                        linked[report] = (level, count)
                        break
    cases = []
    path = out / "truth" / "cases.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    with path.open("w", encoding="utf-8", newline="\n") as written:
        for line in lines:
            case = json.loads(line)
            via = linked.get(case["report"])
            case["linked"] = {"via": via[0], "reports": via[1]} if via else None
            case["observable"] = bool(
                case["flags"] or case["text"] or (via is not None and via[0] in LINK_LEVELS)
            )
            written.write(json.dumps(case, ensure_ascii=False, separators=(",", ":")) + "\n")
            cases.append(
                {key: case[key] for key in ("report", "offender", "country", "risk", "observable")}
            )
    return cases


# -- readers for evaluations ---------------------------------------------------------


@dataclass(frozen=True)
class OffenderEvidence:
    """One offender's reports and, per evidence level, the group of each report."""

    offender: str
    reports: list[str]
    groups: dict[str, list[int]]

    def joined_pairs(self, level: str) -> int:
        """Pairs of this offender's reports that evidence up to ``level`` connects (transitively)."""
        sizes: dict[int, int] = {}
        for label in self.groups[level]:
            sizes[label] = sizes.get(label, 0) + 1
        return sum(n * (n - 1) // 2 for n in sizes.values())


def read_evidence(folder: Path) -> Iterator[OffenderEvidence]:
    """The lines of ``truth/evidence.jsonl``."""
    with (folder / "truth" / "evidence.jsonl").open(encoding="utf-8") as stream:
        for line in stream:
            raw = json.loads(line)
            yield OffenderEvidence(raw["offender"], raw["reports"], raw["groups"])


def read_link_evidence(folder: Path) -> dict[str, dict[str, list[str]]]:
    """Report id → the evidence keys by level that ``truth/links.jsonl`` records for it."""
    with (folder / "truth" / "links.jsonl").open(encoding="utf-8") as stream:
        return {
            raw["report"]: raw["evidence"] for raw in map(json.loads, stream) if raw.get("evidence")
        }


def read_cued_reports(folder: Path) -> set[str]:
    """Ids of the offenders' reports that carry a cue a reader could see (flag, text, vague)."""
    with (folder / "truth" / "links.jsonl").open(encoding="utf-8") as stream:
        return {raw["report"] for raw in map(json.loads, stream) if raw.get("cues")}


def pair_classes(folder: Path) -> dict[str, int]:
    """Pairs of reports of one offender by the strongest evidence that connects them.

    A pair is ``exact`` when a chain of exact identifiers joins it, ``variant``
    when variants are needed as well, and so on down the levels; ``none``
    when nothing in the reports connects it.
    """
    counts = dict.fromkeys((*LEVELS, "none"), 0)
    for offender in read_evidence(folder):
        n = len(offender.reports)
        before = 0
        for level in LEVELS:
            joined = offender.joined_pairs(level)
            counts[level] += joined - before
            before = joined
        counts["none"] += n * (n - 1) // 2 - before
    return counts


def evidence_clusters(folder: Path, level: str = "media") -> dict[str, str]:
    """Report id → the best clusters a linker could make from evidence up to ``level``.

    Only reports of recurring offenders are listed; any other report is a
    cluster of its own.
    """
    if level not in LEVELS:
        raise ValueError(f"level: {level!r} is not one of {', '.join(LEVELS)}")
    clusters: dict[str, str] = {}
    for offender in read_evidence(folder):
        for report, label in zip(offender.reports, offender.groups[level], strict=True):
            clusters[report] = f"{offender.offender}:{label}"
    return clusters


def bcubed_recall_ceiling(folder: Path, level: str = "media") -> float:
    """B-cubed recall over recurring offenders' reports of the clusters evidence up to ``level`` allows."""
    total, reports = 0.0, 0
    for offender in read_evidence(folder):
        sizes: dict[int, int] = {}
        for label in offender.groups[level]:
            sizes[label] = sizes.get(label, 0) + 1
        n = len(offender.reports)
        total += sum(size * size / n for size in sizes.values())
        reports += n
    return total / reports if reports else 1.0


def read_cases(folder: Path) -> list[dict[str, Any]]:
    """The planted cases of ``truth/cases.jsonl``: risk, the cues on the report, the link to a cue."""
    with (folder / "truth" / "cases.jsonl").open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def observable_cases(folder: Path) -> list[dict[str, Any]]:
    """The planted cases a reader could see: a flag, a cue in the text, or a link to a report with one."""
    return [case for case in read_cases(folder) if case["observable"]]
