"""The JSON documents the linking routes answer (:mod:`veille.linking.api`), for OpenAPI.

Each model describes what the function behind a route returns
(:mod:`veille.linking.clusters`, :mod:`veille.linking.deconfliction`,
:mod:`veille.linking.engine`); the routes validate their answers against them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from veille.linking.clusters import CLUSTER_ID_PATTERN
from veille.vocab import Marking, PlatformCategory


class ClusterCounts(BaseModel):
    """A case cluster counted over the reports the caller may see."""

    cluster_id: str = Field(pattern=CLUSTER_ID_PATTERN, description="Public id (cc-…).")
    size: int = Field(description="Reports you may see.")
    agencies: int = Field(description="Agencies owning those reports.")
    countries: int = Field(description="Derived countries of those reports.")


class ClusterListed(ClusterCounts):
    """A case cluster as listed."""

    updated_at: datetime


class ClusterList(BaseModel):
    """One page of clusters, largest first, and how many there are."""

    total: int
    clusters: list[ClusterListed]


class ClusterMember(BaseModel):
    """A report of a cluster, as the cluster shows it."""

    id: int
    received_at: datetime
    country: str | None = Field(description="The report's derived country.")
    platform_category: PlatformCategory
    owner: str = Field(description="The owning agency's name.")
    marking: Marking


class ClusterLink(BaseModel):
    """Evidence between two visible reports of a cluster."""

    report_id: int
    other_report_id: int
    evidence: str = Field(description="identifier, content or person (a named suspect).")
    key: str


class CandidateLinkOut(BaseModel):
    """Weak evidence from a report of the cluster to a report of another (not merged)."""

    report_id: int
    other_report_id: int
    evidence: str = Field(description="person (a named suspect, name alone or roughly alike).")
    key: str
    score: float = Field(description="The person matcher's score, 0 to 1.")


class ClusterDetail(ClusterCounts):
    """One cluster: its visible reports, the links between them and its candidate links."""

    reports: list[ClusterMember]
    links: list[ClusterLink]
    candidates: list[CandidateLinkOut] = Field(
        default_factory=list,
        description="Weak links to reports of other clusters, both ends visible, for review.",
    )


class AlertOut(BaseModel):
    """A deconfliction alert: another agency holds reports of one of your clusters."""

    id: int
    cluster_id: str
    other_agency: str
    other_country: str | None
    message: str
    created_at: datetime
    acknowledged_at: datetime | None


class AlertAcknowledged(BaseModel):
    """An alert was acknowledged (again, if it already was)."""

    id: int
    acknowledged: bool


class LinkingCounts(BaseModel):
    """What a linking run did (:meth:`veille.linking.engine.LinkSummary.as_dict`)."""

    reports_linked: int
    links_recorded: int
    clusters_merged: int
    keys_stopped: int
    alerts_raised: int
    reports_to_rescore: int
    elapsed_s: float


class ScoringCounts(BaseModel):
    """What the ``score`` flow step did after linking (triage's ``ScoreSummary.as_dict``)."""

    considered: int
    scored: int
    new: int
    rescored: int
    band_changed: int
    unchanged: int
    missing: int
    by_band: dict[str, int]
    policy_version: str
    elapsed_s: float


class LinkRun(BaseModel):
    """A linking run and the scoring run it caused (``null`` when no capability scores)."""

    linking: LinkingCounts
    scoring: ScoringCounts | None
