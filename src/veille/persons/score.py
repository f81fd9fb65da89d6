"""How alike two persons are: a score in [0, 1] and the fields that agree.

The score is a weighted mean of the name (0.60), the date of birth (0.35)
and the nationality (0.05). A name alone never reaches the default
threshold (0.80): a traveller who shares a watch-listed person's whole name
but not the date of birth scores 0.65 at most, which is what homonyms need.
A shared document number lifts the score toward 1 (documents are renewed,
so a different number lowers nothing).

Names are compared in both orders (given/family swapped costs 0.02), on
every name of each record (transliterations, aliases), on transliteration
skeletons (:func:`part_agreement`: Jaro-Winkler above what strangers reach,
or one or two edits); a given name reduced to initials agrees at
0.90 when the initials agree. The name's similarity is half the mean of
family (0.55) and given name (0.45) and half the weaker of the two, so a
relative born the same day (same family name, another given name) stays
below the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from rapidfuzz.distance import OSA, JaroWinkler

from veille.persons.normalise import initial_class
from veille.persons.records import FoldedName, Forms, PreparedPerson

NAME_WEIGHT = 0.60
BIRTH_WEIGHT = 0.35
NATIONALITY_WEIGHT = 0.05
SWAPPED_PENALTY = 0.02
INITIAL_AGREEMENT = 0.90
DEFAULT_THRESHOLD = 0.80
"""The score from which two records are taken for the same person."""


@dataclass(frozen=True)
class PersonMatch:
    """How one record matched another: the score and, per field, how well it agreed."""

    key: str
    """The matched record's key."""
    score: float
    fields: dict[str, float] = field(default_factory=dict)
    """Similarity in [0, 1] of each field compared (``family_name``, ``given_name``,
    ``date_of_birth``, ``nationality``, ``document``)."""
    notes: tuple[str, ...] = ()
    """How the names agreed: ``swapped``, ``initials``, ``spelling`` (equal once
    transliteration and doubled letters are merged), ``alias`` (not the first name of a record)."""

    @property
    def matched_fields(self) -> list[str]:
        """The fields that agree (similarity ≥ 0.85)."""
        return [name for name, value in self.fields.items() if value >= 0.85]


def birth_similarity(left: date | None, right: date | None) -> float | None:
    """1 when equal; 0.8 for day and month swapped; 0.6 for one part wrong (the year by one
    digit); 0 otherwise; ``None`` when either is unknown."""
    if left is None or right is None:
        return None
    if left == right:
        return 1.0
    if left.year == right.year and left.day == right.month and left.month == right.day:
        return 0.8
    if left.year == right.year and (left.month == right.month or left.day == right.day):
        return 0.6
    if left.month == right.month and left.day == right.day:
        # A year mistyped in one digit (1970/1971, 1970/1907 is not); another year is another person.
        differing = sum(
            a != b for a, b in zip(f"{left.year:04d}", f"{right.year:04d}", strict=True)
        )
        return 0.6 if differing == 1 else 0.0
    return 0.0


JARO_WINKLER_FLOOR = 0.70
"""Jaro-Winkler similarity that unrelated names commonly reach (``Martin``/``Marvin`` 0.89,
``Torres``/``Morales`` 0.79): agreement counts from here, 0 at the floor, 1 at equality."""


@lru_cache(maxsize=1 << 18)
def part_agreement(left: str, right: str) -> float:
    """How well two name parts (skeletons or folded text) agree, in [0, 1].

    Jaro-Winkler rescaled from :data:`JARO_WINKLER_FLOOR`, corrected by the
    number of edits: one letter wrong, missing or swapped in a name of 4
    letters or more is 0.85 (``Diaz``/``Daz``, which Jaro-Winkler rates as it
    rates strangers), two in a name of 8 or more 0.70; three or more edits
    cap it at 0.40 (``Nikolai``/``Nikodim``: Jaro-Winkler's prefix bonus
    would make brothers of them).
    """
    if left == right:
        return 1.0
    scaled = max(
        0.0, (JaroWinkler.similarity(left, right) - JARO_WINKLER_FLOOR) / (1 - JARO_WINKLER_FLOOR)
    )
    longest = max(len(left), len(right))
    edits = OSA.distance(left, right, score_cutoff=3)
    if edits >= 3:
        return min(scaled, 0.40)
    if edits == 1 and longest >= 4:
        return max(scaled, 0.85)
    if edits == 2 and longest >= 8:
        return max(scaled, 0.70)
    return scaled


def _part(left: Forms, right: Forms) -> float:
    """Agreement of one name part: of the skeletons, else of the coarse skeletons, else of
    the folded text (a typo can hide in a merged letter); a form equal to the skeleton on
    both sides is not compared again."""
    found = part_agreement(left[0], right[0])
    if found < 0.85 and (left[1] != left[0] or right[1] != right[0]):
        found = max(found, part_agreement(left[1], right[1]))
    if found < 0.85 and (left[2] != left[0] or right[2] != right[0]):
        found = max(found, part_agreement(left[2], right[2]))
    return found


def _given_similarity(left: FoldedName, right: FoldedName) -> tuple[float, bool]:
    if not left.given or not right.given:
        return 0.0, False
    if left.given_is_initials or right.given_is_initials:
        short, long = (left, right) if left.given_is_initials else (right, left)
        initials = [initial_class(token[0]) for token in short.given]
        first_letters = [initial_class(token[0]) for token in long.given]
        agree = initials == first_letters[: len(initials)]
        return (INITIAL_AGREEMENT if agree else 0.0), True
    return _part(left.given_forms, right.given_forms), False


def name_similarity(
    left: PreparedPerson, right: PreparedPerson, needed: float = 0.0
) -> tuple[float, dict[str, float], tuple[str, ...]]:
    """The best agreement of any name of ``left`` with any name of ``right``, either order.

    A reading whose family name agrees too little for the name to reach
    ``needed`` is not read further (its given name is not compared).
    """
    # The name is at most 0.725 × its weaker part + 0.275 (the other part equal).
    part_floor = (needed - 0.275) / 0.725
    best: tuple[float, dict[str, float], tuple[str, ...]] = (
        0.0,
        {"family_name": 0.0, "given_name": 0.0},
        (),
    )
    for left_index, left_name in enumerate(left.names):
        for right_index, right_name in enumerate(right.names):
            for other, swapped in (
                (right_name, False),
                (right.swapped_names[right_index], True),
            ):
                if swapped and best[0] >= 1.0 - SWAPPED_PENALTY:
                    break  # read the other way round, it cannot do better
                family = (
                    _part(left_name.family_forms, other.family_forms)
                    if left_name.family and other.family
                    else 0.0
                )
                if family < part_floor:
                    continue
                given, by_initials = _given_similarity(left_name, other)
                # Half the weakest part: a shared family name with another given name is
                # a relative or a stranger, not the person.
                value = (
                    0.5 * min(family, given)
                    + 0.5 * (0.55 * family + 0.45 * given)
                    - (SWAPPED_PENALTY if swapped else 0.0)
                )
                if value <= best[0]:
                    continue
                notes: list[str] = []
                if swapped:
                    notes.append("swapped")
                if by_initials:
                    notes.append("initials")
                if left_index or right_index:
                    notes.append("alias")
                if (
                    left_name.family != other.family
                    and left_name.family_skeleton == other.family_skeleton
                ) or (
                    left_name.given != other.given
                    and left_name.given_skeleton == other.given_skeleton
                ):
                    notes.append("spelling")
                best = (value, {"family_name": family, "given_name": given}, tuple(notes))
    return best


def score_pair(
    left: PreparedPerson, right: PreparedPerson, *, threshold: float = 0.0
) -> PersonMatch | None:
    """How alike ``left`` and ``right`` are, or ``None`` when they cannot reach ``threshold``.

    The cheap fields (date of birth, nationality, documents) come first, so
    that a candidate that cannot reach the threshold costs no name comparison.
    """
    fields: dict[str, float] = {}
    weights = NAME_WEIGHT
    total = 0.0
    birth = birth_similarity(left.record.date_of_birth, right.record.date_of_birth)
    if birth is not None:
        fields["date_of_birth"] = birth
        weights += BIRTH_WEIGHT
        total += BIRTH_WEIGHT * birth
    if left.nationality and right.nationality:
        nationality = 1.0 if left.nationality == right.nationality else 0.0
        fields["nationality"] = nationality
        weights += NATIONALITY_WEIGHT
        total += NATIONALITY_WEIGHT * nationality
    document = bool(left.documents & right.documents)
    if document:
        fields["document"] = 1.0
    if not document and (total + NAME_WEIGHT) / weights < threshold:
        return None
    needed = 0.0 if document else (threshold * weights - total) / NAME_WEIGHT
    name, name_fields, notes = name_similarity(left, right, needed)
    fields.update(name_fields)
    score = (total + NAME_WEIGHT * name) / weights
    if document:
        score = 1.0 - (1.0 - score) * 0.2
    if score < threshold:
        return None
    return PersonMatch(
        key=right.record.key,
        score=round(score, 4),
        fields={k: round(v, 4) for k, v in fields.items()},
        notes=notes,
    )
