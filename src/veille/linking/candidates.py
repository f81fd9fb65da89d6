"""Candidate links: weak evidence between reports, kept for review, never merging clusters.

A named suspect without a date of birth, or one whose name and date of birth
agree only roughly, may be the offender of another report, or a homonym.
Such a match is stored as a candidate link (table ``link_candidate``, with
the matcher's score and the suspect it rests on) and shown beside a
cluster's links; the clusters stay apart. Deconfliction alerts and triage
read clusters only, so they see strong evidence only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from veille.linking.models import LinkAnchor
from veille.linking.suspects import CANDIDATE_THRESHOLD, person_from_key
from veille.persons import PersonIndex, PersonRecord

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
