"""The JSON documents the triage and referral routes answer (:mod:`veille.triage.api`).

Each model describes what the function behind a route returns
(:mod:`veille.triage.queue`, :mod:`veille.triage.explain`,
:mod:`veille.triage.policy`, :mod:`veille.triage.referral`); the routes
validate their answers against them. A report's cluster is counted as the
linking routes count it (:class:`veille.linking.api_models.ClusterCounts`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from veille.linking.api_models import ClusterCounts
from veille.triage.models import Outcome, QueueState


class ReasonOut(BaseModel):
    """One factor's share of a score."""

    factor: str
    contribution: float
    detail: str


class QueueEntry(BaseModel):
    """A report in the agency's queue, at the queue's ``as_of``."""

    position: int = Field(description="1 for the most urgent (counting the pages before).")
    report_id: int
    band: str
    score: float
    due_at: datetime
    overdue: bool
    due_later_today: bool
    reached_today: bool | None = Field(
        description="Whether today's remaining capacity reaches it; null without a capacity "
        "or for an item that is not open."
    )
    state: QueueState
    assignee: str | None
    outcome: Outcome | None
    received_at: datetime
    country: str | None = Field(description="The report's derived country.")
    reasons: list[ReasonOut]


class QueueOut(BaseModel):
    """One page of the queue and what the unit's capacity says about the day."""

    as_of: datetime
    summary: str = Field(description="The forecast in one sentence.")
    open_total: int
    open_by_band: dict[str, int]
    capacity_per_day: int | None
    handled_today: int
    not_reached_today: int | None
    not_reached_by_band: dict[str, int]
    overdue: int
    due_later_today: int
    items: list[QueueEntry]


class QueuePlace(BaseModel):
    """Where a report stands in one agency's queue."""

    agency_id: int
    agency: str
    state: QueueState
    assignee: str | None
    outcome: Outcome | None


class ReferralOfReport(BaseModel):
    """A referral of the report, as its explanation lists it."""

    id: int
    to: str = Field(description="The receiving agency's name.")
    reason: str
    created_at: datetime
    acknowledged_at: datetime | None


class Explanation(BaseModel):
    """A report's score with its reasons, its cluster, queue places and referrals."""

    report_id: int
    received_at: datetime
    country: str | None = Field(description="The report's derived country.")
    score: float
    band: str
    due_at: datetime | None = Field(description="Null when the report is not scored yet.")
    policy_version: str
    scored_at: datetime | None
    trigger: str | None
    reasons: list[ReasonOut]
    stored: bool = Field(description="False: not scored yet, evaluated now and not stored.")
    cluster: ClusterCounts | None
    queue: list[QueuePlace]
    referrals: list[ReferralOfReport]


class StateChanged(BaseModel):
    """A report's place in the queue after a move."""

    report_id: int
    state: QueueState
    assignee: str | None
    outcome: Outcome | None


class FactorOut(BaseModel):
    """One factor of a policy; the scaling parameters appear only where the policy sets them."""

    weight: float
    full_days: float | None = None
    zero_days: float | None = None
    saturate_at: int | None = None
    meaning: str


class BandOut(BaseModel):
    """A priority band: from which score, and within how many hours it is due."""

    min_score: float
    due_hours: float


class PolicyOut(BaseModel):
    """The active scoring policy."""

    version: str
    description: str
    factors: dict[str, FactorOut]
    bands: dict[str, BandOut]


class PolicyVerdict(BaseModel):
    """Whether a policy text can be used; ``version`` only when it can."""

    valid: bool
    version: str | None = None
    errors: list[str]


class CapacityOut(BaseModel):
    """The unit's capacity as set."""

    reports_per_day: int


class ReferralMade(BaseModel):
    """A referral just made."""

    id: int
    report_id: int
    to_agency_id: int
    to_agency: str
    reason: str
    shared: bool = Field(description="Whether the report was shared with the receiver.")


class ReferralSkipped(BaseModel):
    """A report of a cluster that was not referred, and why."""

    report_id: int
    reason: str


class ReferralsMade(BaseModel):
    """What a referral of a report or of a cluster made and skipped."""

    referrals: list[ReferralMade]
    skipped: list[ReferralSkipped]


class ReferralListed(BaseModel):
    """A referral your agency made or received."""

    model_config = ConfigDict(populate_by_name=True)

    id: int
    report_id: int
    from_agency: str = Field(alias="from", description="The referring agency's name.")
    to_agency: str = Field(alias="to", description="The receiving agency's name.")
    reason: str
    cluster_id: str | None = Field(description="Public id when a whole cluster was referred.")
    created_at: datetime
    created_by: str
    acknowledged_at: datetime | None
    report_visible: bool


class ReferralAcknowledged(BaseModel):
    """When the referral was acknowledged (the first time)."""

    id: int
    acknowledged_at: datetime
