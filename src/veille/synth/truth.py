"""What ``truth.json`` says about the planted effects, and the document itself.

Later capabilities score what they find against this file: every effect
(with the rates that came out), every country's restriction dates, and the
files that hold the per-report truth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from veille.synth.config import ScenarioConfig
from veille.synth.volume import DelayedReports, StreamRates, channel_factor
from veille.synth.world import World

GENERATOR_VERSION = 1


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
