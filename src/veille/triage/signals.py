"""The facts a score is computed from, gathered for many reports at once.

A report's own fields (flags, offence types, times), its case cluster (from
linking) and its media signals (from the media capability, when installed).
Facts from other reports of the cluster come only from those that every
reader of the scored report may see (see
:func:`veille.linking.clusters.cluster_evidence`): the score is stored on the
report and shown to all of them.
The digest of these facts tells whether a re-score would change anything.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from veille.linking.candidates import candidate_neighbours
from veille.linking.clusters import ClusterFacts, cluster_evidence
from veille.store.models import Report, ReportFlagRow, ReportOffence
from veille.store.sql import among
from veille.triage.cues import NO_CUES, TextCues, read_cues
from veille.triage.media_bridge import MediaSignalSource, media_signal_source


@dataclass(frozen=True)
class MediaFacts:
    """The media signals triage uses (a copy of the media capability's answer)."""

    known: int = 0
    new_version: int = 0
    new: int = 0
    viral: bool = False
    victim_identified_known: bool = False
    matched: bool = False

    @classmethod
    def from_signals(cls, signals: Any) -> MediaFacts:
        """Copy any object with the media capability's ``MediaSignals`` attributes."""
        return cls(
            known=int(getattr(signals, "known", 0) or 0),
            new_version=int(getattr(signals, "new_version", 0) or 0),
            new=int(getattr(signals, "new", 0) or 0),
            viral=bool(getattr(signals, "viral", False)),
            victim_identified_known=bool(getattr(signals, "victim_identified_known", False)),
            matched=bool(getattr(signals, "matched", False)),
        )


@dataclass(frozen=True)
class ReportSignals:
    """Everything the policy's factors look at, for one report."""

    report_id: int
    owner_agency_id: int
    received_at: datetime
    incident_at: datetime | None
    flags: frozenset[str]
    offences: frozenset[str]
    cluster: ClusterFacts | None = None
    media: MediaFacts | None = None
    cluster_flags: frozenset[str] = frozenset()
    text_cues: TextCues = NO_CUES
    """Cues of a child in danger read from the report's own summary."""
    cluster_text_states: frozenset[str] = frozenset()
    """Risk states that the summaries of other reports of its case cluster name."""
    candidate_risks: frozenset[str] = frozenset()
    """Risk flags and states (``flag:…``, ``text:…``) of reports only a candidate link joins
    it to (a named suspect who may be the same person)."""
    candidate_score: float = 0.0
    """The strongest of those candidate links (the person matcher's score)."""

    def digest(self) -> str:
        """A fingerprint of the facts (not of the times), to skip re-scores that change nothing."""
        cluster = (
            None
            if self.cluster is None
            else (self.cluster.size, self.cluster.country_count, self.cluster.agency_count)
        )
        text = repr(
            (
                sorted(self.flags),
                sorted(self.offences),
                cluster,
                self.media,
                self.incident_at,
                sorted(self.cluster_flags),
                self.text_cues,
                sorted(self.cluster_text_states),
                sorted(self.candidate_risks),
                round(self.candidate_score, 3),
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()


def gather_signals(
    session: Session,
    report_ids: Collection[int],
    media_source: MediaSignalSource | bool | None = True,
) -> dict[int, ReportSignals]:
    """The signals of each existing report among ``report_ids``.

    ``media_source``: ``True`` asks the media capability when it is installed,
    ``None``/``False`` ignores media, a callable is used as it is (tests).
    """
    source = media_signal_source() if media_source is True else media_source or None
    ids = sorted(set(report_ids))
    flags: dict[int, set[str]] = defaultdict(set)
    offences: dict[int, set[str]] = defaultdict(set)
    rows: list[Any] = []
    for start in range(0, len(ids), 900):
        batch = ids[start : start + 900]
        rows.extend(
            session.execute(
                select(
                    Report.id,
                    Report.owner_agency_id,
                    Report.received_at,
                    Report.incident_at,
                    Report.summary,
                ).where(among(Report.id, batch))
            )
        )
        for report_id, flag in session.execute(
            select(ReportFlagRow.report_id, ReportFlagRow.flag).where(
                among(ReportFlagRow.report_id, batch)
            )
        ):
            flags[report_id].add(flag.value)
        for report_id, offence in session.execute(
            select(ReportOffence.report_id, ReportOffence.offence_type).where(
                among(ReportOffence.report_id, batch)
            )
        ):
            offences[report_id].add(offence.value)
    evidence = cluster_evidence(session, ids)
    clusters: dict[int, ClusterFacts] = evidence.facts
    related = _flags_of_linked_reports(session, evidence.others)
    related_text = _text_states_of_linked_reports(session, evidence.others)
    candidates = _candidate_risks(session, ids)
    media: dict[int, Any] = source(session, ids) if callable(source) else {}
    return {
        report_id: ReportSignals(
            report_id=report_id,
            owner_agency_id=owner,
            received_at=received,
            incident_at=incident,
            flags=frozenset(flags.get(report_id, ())),
            offences=frozenset(offences.get(report_id, ())),
            cluster=clusters.get(report_id),
            media=MediaFacts.from_signals(media[report_id]) if report_id in media else None,
            cluster_flags=frozenset(related.get(report_id, ())),
            text_cues=read_cues(summary),
            cluster_text_states=frozenset(related_text.get(report_id, ())),
            candidate_risks=candidates.get(report_id, (frozenset(), 0.0))[0],
            candidate_score=candidates.get(report_id, (frozenset(), 0.0))[1],
        )
        for report_id, owner, received, incident, summary in rows
    }


# Facts about a linked report that make every report of its case urgent: a child in
# danger now (ongoing access, abuse streamed live, a threat of self-harm). Hands-on abuse
# on a linked report is past abuse: it weighs on that report, not on every other one
# (with it, one producer's 40 reports all went to P1 ahead of children in danger now).
RISK_FLAGS = ("ongoing_access", "live_streaming", "self_harm_threat")


def _flags_of_linked_reports(session: Session, others: dict[int, set[int]]) -> dict[int, set[str]]:
    """For each report: the risk flags carried by the other reports it may draw on."""
    carriers: dict[int, set[str]] = defaultdict(set)
    wanted = sorted({other for members in others.values() for other in members})
    for start in range(0, len(wanted), 900):
        for report_id, flag in session.execute(
            select(ReportFlagRow.report_id, ReportFlagRow.flag).where(
                among(ReportFlagRow.report_id, wanted[start : start + 900]),
                ReportFlagRow.flag.in_(RISK_FLAGS),
            )
        ):
            carriers[report_id].add(flag.value)
    found: dict[int, set[str]] = {}
    for report_id, members in others.items():
        flags = set().union(*(carriers.get(member, set()) for member in members))
        if flags:
            found[report_id] = flags
    return found


def _text_states_of_linked_reports(
    session: Session, others: dict[int, set[int]]
) -> dict[int, set[str]]:
    """For each report: the risk states named in the summaries of the other reports it may draw on."""
    states_of: dict[int, frozenset[str]] = {}
    wanted = sorted({other for members in others.values() for other in members})
    for start in range(0, len(wanted), 900):
        for report_id, summary in session.execute(
            select(Report.id, Report.summary).where(
                among(Report.id, wanted[start : start + 900]), Report.summary.is_not(None)
            )
        ):
            states = read_cues(summary).states
            if states:
                states_of[report_id] = states
    found: dict[int, set[str]] = {}
    for report_id, members in others.items():
        named: set[str] = set().union(*(states_of.get(member, frozenset()) for member in members))
        if named:
            found[report_id] = named
    return found


def _candidate_risks(
    session: Session, report_ids: Collection[int]
) -> dict[int, tuple[frozenset[str], float]]:
    """For each report: the risks of the reports a candidate link joins it to, and the
    strongest such link's score (only links to a report that carries a risk count)."""
    neighbours = candidate_neighbours(session, report_ids)
    wanted = sorted({other for others in neighbours.values() for other in others})
    risks: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(wanted), 900):
        batch = wanted[start : start + 900]
        for report_id, flag in session.execute(
            select(ReportFlagRow.report_id, ReportFlagRow.flag).where(
                among(ReportFlagRow.report_id, batch), ReportFlagRow.flag.in_(RISK_FLAGS)
            )
        ):
            risks[report_id].add(f"flag:{flag.value}")
        for report_id, summary in session.execute(
            select(Report.id, Report.summary).where(
                among(Report.id, batch), Report.summary.is_not(None)
            )
        ):
            risks[report_id].update(f"text:{state}" for state in read_cues(summary).states)
    found: dict[int, tuple[frozenset[str], float]] = {}
    for report_id, others in neighbours.items():
        carrying = [other for other in others if risks.get(other)]
        if carrying:
            found[report_id] = (
                frozenset().union(*(risks[other] for other in carrying)),
                max(others[other] for other in carrying),
            )
    return found
