"""Alerts scored against a scenario's truth: precision, and recall by variation kind.

Used by ``veille demo`` and ``bench/travel_eval.py`` after matching; the
matcher itself never reads the truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TravelScores:
    """How alerts compare with the true matches."""

    true_matches: int
    alerts: int
    correct: int
    found_by_variation: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per variation kind: ``(found, planted)``."""

    @property
    def precision(self) -> float:
        """Share of alerts that are true matches (1 when there is no alert)."""
        return self.correct / self.alerts if self.alerts else 1.0

    @property
    def recall(self) -> float:
        """Share of true matches alerted (1 when there is none)."""
        return self.correct / self.true_matches if self.true_matches else 1.0

    def recall_of(self, variation: str) -> float:
        """Recall on one variation kind."""
        found, planted = self.found_by_variation[variation]
        return found / planted if planted else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "true_matches": self.true_matches,
            "alerts": self.alerts,
            "correct": self.correct,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "recall_by_variation": {
                kind: {"found": found, "planted": planted}
                for kind, (found, planted) in sorted(self.found_by_variation.items())
            },
        }


def score_alerts(
    alerts: Iterable[tuple[str, str]], true_matches: Iterable[dict[str, Any]]
) -> TravelScores:
    """Compare ``(notice_id, watch_id)`` alerts with truth lines ``{notice, watch_id, variation}``."""
    truth = {(m["notice"], m["watch_id"]): str(m["variation"]) for m in true_matches}
    raised = set(alerts)
    planted = Counter(truth.values())
    found = Counter(kind for pair, kind in truth.items() if pair in raised)
    return TravelScores(
        true_matches=len(truth),
        alerts=len(raised),
        correct=sum(found.values()),
        found_by_variation={kind: (found[kind], planted[kind]) for kind in planted},
    )
