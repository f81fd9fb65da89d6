"""Triage: scoring policy, scores with reasons, work queues and referrals.

Other capabilities call :func:`veille.triage.scoring.rescore_reports` when
they learn something that changes a report's priority (a media match, a new
link); it is also reachable as ``veille.triage.rescore_reports``.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Imported lazily so that loading the models (at migration time) does not
    # pull in the scoring machinery and its imports.
    if name in ("rescore_reports", "score_reports"):
        from veille.triage import scoring

        return getattr(scoring, name)
    raise AttributeError(name)
