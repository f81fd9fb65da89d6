"""Candidate links: weak evidence between reports, kept for review, never merging clusters.

A named suspect without a date of birth, or one whose name and date of birth
agree only roughly, may be the offender of another report, or a homonym.
Such a match is stored as a candidate link (table ``link_candidate``, with
the matcher's score and the suspect it rests on) and shown beside a
cluster's links; the clusters stay apart. Deconfliction alerts read
clusters only, so they see strong evidence only. Triage reads candidate
links for one thing, named as such among a score's reasons: a report that
may be about the same person as a report with a child at risk
(:func:`candidate_neighbours`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from veille.linking.models import CandidateLink, LinkAnchor
from veille.linking.suspects import CANDIDATE_THRESHOLD, person_from_key
from veille.persons import PersonIndex, PersonRecord
from veille.store.models import Report
from veille.store.sql import among
from veille.store.visibility import evidence_readable_by_readers_of

_IN_BATCH = 900
_PERSON_KEYS = ("person:", "person;")
"""First and last anchor key of named suspects (``:`` + 1 is ``;``)."""


@dataclass
class CandidateFinder:
    """Every named suspect anchored so far, in the one person matcher's index (blocking keys)."""

    index: PersonIndex = field(default_factory=PersonIndex)
    anchors: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> CandidateFinder:
        """The suspects of every report linked so far."""
        finder = cls()
        low, high = _PERSON_KEYS
        for key, report_id in session.execute(
            select(LinkAnchor.key, LinkAnchor.report_id).where(LinkAnchor.key.between(low, high))
        ):
            finder.add(key, report_id)
        return finder

    def add(self, key: str, report_id: int) -> None:
        """File a suspect's anchor (once per key)."""
        if key in self.anchors:
            return
        person = person_from_key(key)
        if person is None:
            return
        self.anchors[key] = report_id
        self.index.add(person)

    def candidates(
        self, report_id: int, person: PersonRecord, strong: Collection[str]
    ) -> list[tuple[int, str, float]]:
        """(other report, suspect key, score) of the suspects alike ``person`` not already
        strongly linked (``strong``: the keys the report was linked on)."""
        found: dict[int, tuple[str, float]] = {}
        for match in self.index.match(person, threshold=CANDIDATE_THRESHOLD):
            other = self.anchors[match.key]
            if other == report_id or match.key in strong:
                continue
            if other not in found or match.score > found[other][1]:
                found[other] = (match.key, match.score)
        return [(other, key, score) for other, (key, score) in sorted(found.items())]


def candidate_neighbours(
    session: Session, report_ids: Collection[int]
) -> dict[int, dict[int, float]]:
    """For each report, the reports a candidate link joins it to, with the link's score.

    Either side of a link counts. Only the other reports that every reader of
    the report may see are returned
    (:func:`~veille.store.visibility.evidence_readable_by_readers_of`), since
    what is derived from them is stored on the report and shown to its readers.
    """
    found: dict[int, dict[int, float]] = defaultdict(dict)
    ids = sorted(set(report_ids))
    mine, theirs = aliased(Report), aliased(Report)
    for start in range(0, len(ids), _IN_BATCH):
        batch = ids[start : start + _IN_BATCH]
        for own, other in (
            (CandidateLink.report_id, CandidateLink.other_report_id),
            (CandidateLink.other_report_id, CandidateLink.report_id),
        ):
            for report_id, other_id, score in session.execute(
                select(own, other, CandidateLink.score)
                .join(mine, mine.id == own)
                .join(theirs, theirs.id == other)
                .where(among(own, batch), evidence_readable_by_readers_of(theirs, mine))
            ):
                known = found[report_id].get(other_id, 0.0)
                found[report_id][other_id] = max(known, float(score))
    return dict(found)
