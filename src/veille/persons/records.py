"""A person as the matcher sees it: names (with transliterations), date of birth, nationality, documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from veille.persons.normalise import coarse_skeleton, fold_tokens, normalise_document, skeleton


@dataclass(frozen=True)
class PersonName:
    """One way a person's name is written: given name(s) and family name(s)."""

    given: str
    family: str


@dataclass(frozen=True)
class PersonRecord:
    """A person to match: a watch-list entry, a traveller, a named suspect.

    ``names[0]`` is the name as recorded; the others are known
    transliterations and aliases, each matched on its own.
    """

    key: str
    names: tuple[PersonName, ...]
    date_of_birth: date | None = None
    nationality: str | None = None
    documents: tuple[str, ...] = ()


@dataclass(frozen=True)
class FoldedName:
    """A name's folded tokens and their skeletons, computed once per record."""

    given: tuple[str, ...]
    family: tuple[str, ...]
    given_skeleton: str
    family_skeleton: str
    given_is_initials: bool
    """Whether the given name is only initials (``J.``, ``J. P.``)."""
    given_text: str = ""
    """The folded given name, tokens joined by a space."""
    family_text: str = ""
    given_coarse: str = ""
    """The given name's :func:`~veille.persons.normalise.coarse_skeleton`."""
    family_coarse: str = ""

    def swapped(self) -> FoldedName:
        """The same name read the other way round (family name first)."""
        return FoldedName(
            given=self.family,
            family=self.given,
            given_skeleton=self.family_skeleton,
            family_skeleton=self.given_skeleton,
            given_is_initials=_initials(self.family),
            given_text=self.family_text,
            family_text=self.given_text,
            given_coarse=self.family_coarse,
            family_coarse=self.given_coarse,
        )


def _initials(tokens: tuple[str, ...]) -> bool:
    return bool(tokens) and all(len(token) == 1 for token in tokens)


@dataclass(frozen=True)
class PreparedPerson:
    """A record with everything the scorer compares, folded once."""

    record: PersonRecord
    names: tuple[FoldedName, ...]
    swapped_names: tuple[FoldedName, ...]
    """``names`` read the other way round, folded once for the scorer."""
    documents: frozenset[str] = field(default_factory=frozenset)
    nationality: str | None = None


def fold_name(name: PersonName) -> FoldedName:
    """Fold one name (see :mod:`veille.persons.normalise`)."""
    given = fold_tokens(name.given)
    family = fold_tokens(name.family)
    return FoldedName(
        given=given,
        family=family,
        given_skeleton=" ".join(skeleton(token) for token in given),
        family_skeleton=" ".join(skeleton(token) for token in family),
        given_is_initials=_initials(given),
        given_text=" ".join(given),
        family_text=" ".join(family),
        given_coarse=" ".join(coarse_skeleton(token) for token in given),
        family_coarse=" ".join(coarse_skeleton(token) for token in family),
    )


def prepare(record: PersonRecord) -> PreparedPerson:
    """A record folded for scoring; names that fold to nothing are dropped."""
    names = tuple(
        folded
        for folded in (fold_name(name) for name in record.names)
        if folded.given or folded.family
    )
    documents = frozenset(
        number for number in (normalise_document(d) for d in record.documents) if number
    )
    nationality = record.nationality.strip().upper() if record.nationality else None
    return PreparedPerson(
        record=record,
        names=names,
        swapped_names=tuple(name.swapped() for name in names),
        documents=documents,
        nationality=nationality,
    )
