"""The synthetic scenario's part of ``veille demo``: what was planted, and what came out.

After the core steps have generated and imported the scenario, this step
reads ``truth.json`` and the database and prints the planted effects beside
the rates measured, so a reader sees at once what the later sections should
find.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from veille.core.demo import DemoContext, DemoSection
from veille.store.models import Report
from veille.synth.truth import LEVELS, bcubed_recall_ceiling, pair_classes
from veille.vocab import PlatformCategory

_SHOWN = ("p2p_sharing", "self_generated", "messaging", "travelling_offender", "domestic_abuse")


def _weekly(context: DemoContext, start: datetime, end: datetime) -> float:
    """Peer-to-peer reports per week received in [start, end), from the database."""
    with context.database.session() as session:
        count = session.scalar(
            select(func.count(Report.id)).where(
                Report.platform_category == PlatformCategory.P2P,
                Report.received_at >= start,
                Report.received_at < end,
            )
        )
    return (count or 0) / max((end - start).days / 7, 1e-9)


def step_planted_effects(context: DemoContext) -> DemoSection:
    """Planted effects (from ``truth.json``) against what the imported data shows."""
    truth = json.loads((context.scenario / "truth.json").read_text(encoding="utf-8"))
    lines = []
    for effect in truth["effects"]:
        if effect["stream"] not in _SHOWN or not effect["reports_per_week_before"]:
            continue
        ratio = effect["reports_per_week_during"] / effect["reports_per_week_before"]
        planted = effect["factor_during"]
        lines.append(
            f"{effect['stream']}: ×{ratio:.2f} during restrictions "
            + (
                f"(planted ×{planted})"
                if planted is not None
                else f"(true incidence ×{effect['true_incidence_factor_during']}, reports deferred)"
            )
        )
    # The same P2P figure straight from the database, over the default restriction months.
    before = _weekly(context, datetime(2019, 3, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC))
    during = _weekly(context, datetime(2020, 4, 1, tzinfo=UTC), datetime(2020, 5, 15, tzinfo=UTC))
    if before:
        lines.append(
            f"in the database: {before:.1f} P2P reports/week in 2019, {during:.1f} in April–May 2020"
        )
    counts = truth["counts"]
    usage = truth["usage"]
    lines.append(
        f"planted for later steps: {counts['offenders']:,} recurring offenders "
        f"(truth/links.jsonl), {counts['high_priority']:,} cases of a child in danger now "
        f"({counts['observable_cases']:,} with a cue a reader could see: truth/cases.jsonl), "
        f"{counts['viral_waves']} viral waves, {len(truth['shared_ips']['addresses'])} gateway "
        f"and public Wi-Fi addresses, {usage['stopped_or_reduced']} of "
        f"{usage['regular_user_agencies']} regular database users stopping or reducing use"
    )
    classes = pair_classes(context.scenario)
    lines.append(
        "pairs of an offender's reports by the evidence that joins them: "
        + ", ".join(f"{name} {count:,}" for name, count in classes.items())
    )
    lines.append(
        "B-cubed recall ceiling by evidence: "
        + ", ".join(
            f"{level} {bcubed_recall_ceiling(context.scenario, level):.3f}" for level in LEVELS
        )
    )
    lines.append(f"truth: {context.scenario / 'truth.json'}")
    return DemoSection("planted effects (synthetic truth)", lines)


DEMO_STEPS = [step_planted_effects]
