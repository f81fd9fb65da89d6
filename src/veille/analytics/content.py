"""Raw volume beside unique and new content and the viral share.

Raw report counts come from the rollups; content comes from the media
capability's content clusters (``veille.media.content_stats``): the same
item reported a thousand times is a thousand reports but one piece of
content, and a viral wave inflates volume without new offenders or new
material — the seed's warning about counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from veille.analytics.series import GRAINS, SeriesQuery, series


@dataclass
class ContentSeries:
    query: SeriesQuery
    marking: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "interval": self.query.grain,
            "filter": self.query.describe(),
            "marking": self.marking,
            "rows": self.rows,
            "note": self.note,
        }


def content_series(session: Session, query: SeriesQuery, agency_id: int | None) -> ContentSeries:
    """Per period: reports, reports with classified media, unique and new content, viral share."""
    from veille.media.content_stats import content_by_period

    volume = series(session, query, agency_id)
    content = content_by_period(
        session, GRAINS[query.grain], agency_id, tuple(query.countries), tuple(query.categories)
    )
    periods: list[date] = sorted(set(volume.periods) | set(content))
    if query.since:
        periods = [p for p in periods if p >= volume.periods[0]] if volume.periods else periods
    if query.until and volume.periods:
        periods = [p for p in periods if p <= volume.periods[-1]]
    counts = (
        dict(zip(volume.periods, volume.series[0].counts, strict=True)) if volume.series else {}
    )
    result = ContentSeries(query, volume.marking)
    for start in periods:
        found = content.get(start, {})
        result.rows.append(
            {
                "period": start.isoformat(),
                "reports": counts.get(start, 0),
                "reports_with_media": found.get("reports", 0),
                "unique_content": found.get("unique_content", 0),
                "new_content": found.get("new_content", 0),
                "viral_share": found.get("viral_share"),
            }
        )
    if agency_id is not None:
        result.note = "viral share: shown to administrators only (a cluster's viral flag draws on reports you may not see)"
    return result
