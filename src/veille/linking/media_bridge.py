"""The media capability's content clusters and signals, when it is installed.

Linking uses the media capability's public functions
``content_clusters_by_report`` and ``media_signals_by_report`` through this
module only. When media is absent or does not offer them yet, they answer "no
media information" and linking on identifiers keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy.orm import Session

ContentClusterSource = Callable[[Session, Collection[int] | None], dict[int, set[int]]]


def _media_function(name: str) -> Any:
    try:
        import veille.media as media
    except ImportError:
        return None
    return getattr(media, name, None)


def content_cluster_source() -> ContentClusterSource | None:
    """``veille.media.content_clusters_by_report`` if it exists."""
    function = _media_function("content_clusters_by_report")
    if function is None:
        return None

    def call(session: Session, report_ids: Collection[int] | None) -> dict[int, set[int]]:
        return dict(function(session, None if report_ids is None else list(report_ids)))

    return call


MediaSignalSource = Callable[[Session, Collection[int]], dict[int, Any]]


def media_signal_source() -> MediaSignalSource | None:
    """``veille.media.media_signals_by_report`` if it exists (known, new, viral per report)."""
    function = _media_function("media_signals_by_report")
    if function is None:
        return None

    def call(session: Session, report_ids: Collection[int]) -> dict[int, Any]:
        return dict(function(session, list(report_ids)))

    return call
