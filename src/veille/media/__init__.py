"""Media: hashing (MD5, SHA-1, SHA-256, PDQ, vPDQ), hash lists, the match index,
report matching, content clusters and viral content.

The public door of the capability; other packages call these, never the
tables:

- ``hash_file(path) -> FileHashes``: hash one file (never raises for bad files);
- ``match_reports(database, report_ids=None)``: match stored reports' media;
- ``content_clusters_by_report(session, report_ids=None)``: report → cluster ids;
- ``media_signals_by_report(session, report_ids)``: report → ``MediaSignals``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veille.media.clusters import (
    MediaSignals,
    content_clusters_by_report,
    media_signals_by_report,
)
from veille.media.hashing import FileHashes, HashOptions, hash_file

if TYPE_CHECKING:
    from veille.media.matching import match_reports

__all__ = [
    "FileHashes",
    "HashOptions",
    "MediaSignals",
    "content_clusters_by_report",
    "hash_file",
    "match_reports",
    "media_signals_by_report",
]


def __getattr__(name: str) -> object:
    # match_reports pulls in the index and numba: loaded only when asked for.
    if name == "match_reports":
        from veille.media.matching import match_reports

        return match_reports
    raise AttributeError(name)
