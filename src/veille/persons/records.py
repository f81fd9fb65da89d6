"""A person as the matcher sees it: names (with transliterations), date of birth, nationality, documents."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from veille.persons.normalise import (
    coarse_skeleton,
    fold,
    fold_tokens,
    normalise_document,
    skeleton,
)


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


Forms = tuple[str, str, str]
"""A name part as compared: its skeleton, its coarse skeleton, its folded text."""


@dataclass(frozen=True)
class FoldedName:
    """A name's folded tokens and the forms the scorer compares, computed once per record."""

    given: tuple[str, ...]
    family: tuple[str, ...]
    given_forms: Forms
    family_forms: Forms
    given_is_initials: bool
    """Whether the given name is only initials (``J.``, ``J. P.``)."""

    @property
    def given_skeleton(self) -> str:
        return self.given_forms[0]

    @property
    def family_skeleton(self) -> str:
        return self.family_forms[0]

    def swapped(self) -> FoldedName:
        """The same name read the other way round (family name first)."""
        return FoldedName(
            given=self.family,
            family=self.given,
            given_forms=self.family_forms,
            family_forms=self.given_forms,
            given_is_initials=_initials(self.family),
        )


def _forms(tokens: tuple[str, ...]) -> Forms:
    return (
        " ".join(skeleton(token) for token in tokens),
        " ".join(coarse_skeleton(token) for token in tokens),
        " ".join(tokens),
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


_INITIAL_SEPARATORS = re.compile(r"[\s.\-]+")


def _fold_part(text: str) -> tuple[str, ...]:
    # Initials are told before transliteration: "Ю." folds to "yu", still one initial.
    written = [token for token in _INITIAL_SEPARATORS.split(text.strip()) if token]
    if written and all(len(token) == 1 and token.isalpha() for token in written):
        return tuple(folded[:1] for folded in (fold(token) for token in written) if folded)
    return fold_tokens(text)


def fold_name(name: PersonName) -> FoldedName:
    """Fold one name (see :mod:`veille.persons.normalise`)."""
    given = _fold_part(name.given)
    family = _fold_part(name.family)
    return FoldedName(
        given=given,
        family=family,
        given_forms=_forms(given),
        family_forms=_forms(family),
        given_is_initials=_initials(given),
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
