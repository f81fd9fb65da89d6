"""The media capability's signals, when it is installed.

Triage uses the media capability's public function
``media_signals_by_report`` through this module only. When media is absent
or does not offer it yet, it answers "no media information" and scoring on
the other signals keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol

from sqlalchemy.orm import Session


class MediaSignalsLike(Protocol):
    """What triage reads from the media capability for one report."""

    known: int
    new_version: int
    new: int
    viral: bool
    victim_identified_known: bool
    matched: bool


MediaSignalSource = Callable[[Session, Collection[int]], dict[int, Any]]


def media_signal_source() -> MediaSignalSource | None:
    """``veille.media.media_signals_by_report`` if it exists."""
    try:
        import veille.media as media
    except ImportError:
        return None
    function = getattr(media, "media_signals_by_report", None)
    if function is None:
        return None

    def call(session: Session, report_ids: Collection[int]) -> dict[int, Any]:
        return dict(function(session, list(report_ids)))

    return call
