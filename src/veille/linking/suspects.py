"""Named suspects read from a report's summary, for person links.

Offline reports (schools, social and health services, police) rarely carry
an account, but the reporter often names the suspect: "The reporter names
the man as Jan KOWALSKI, born 04/03/1971, living in Lipowa." / "La personne
qui signale désigne l'homme : Jan Kowalski, né le 1971-03-04." This module
reads the name and the date of birth from such sentences, in English and
French, as a :class:`veille.persons.PersonRecord` for the one person
matcher. Dates are ISO (``1971-03-04``) or day first (``04/03/1971``), as
written in Europe. A name with no date of birth is not returned: a name
alone is shared by homonyms (the matcher never takes it for a match).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from functools import lru_cache

from veille.persons import PersonName, PersonRecord, PreparedPerson, fold, prepare, score_pair

_NAMED = re.compile(
    r"\b(?:names? (?:the (?:man|woman|suspect|person)|him|her) as"
    r"|désigne (?:l'homme|la femme|le suspect|la personne)\s*:"
    r"|suspect(?:e)?\s*:)"
    r"\s*(?P<name>.+?)"
    # The name ends at its details or at the end of the sentence (not at an initial's dot).
    r"(?=,\s*(?:born|né|née|living|domicilié|domiciliée)\b|(?<!\b\w)\.(?:\s|$)|;|$)",
    re.IGNORECASE,
)
_BORN = re.compile(
    r",\s*(?:born|né|née)(?:\s+(?:on|le))?\s+"
    r"(?P<date>\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})",
    re.IGNORECASE,
)


def _parse_date(text: str) -> date | None:
    try:
        if "-" in text:
            year, month, day = (int(part) for part in text.split("-"))
        else:
            day, month, year = (int(part) for part in text.split("/"))
        return date(year, month, day)
    except ValueError:
        return None


@lru_cache(maxsize=65_536)
def read_suspect(summary: str | None) -> PersonRecord | None:
    """The suspect a summary names, with the date of birth when one is given and valid.

    The first name part is the given name, the rest the family name; the
    matcher also reads them the other way round.
    """
    if not summary:
        return None
    match = _NAMED.search(summary)
    if match is None:
        return None
    parts = match.group("name").split()
    if len(parts) < 2 or len(parts) > 6:
        return None
    born = _BORN.match(summary, match.end())
    date_of_birth = _parse_date(born.group("date")) if born is not None else None
    name = PersonName(given=parts[0], family=" ".join(parts[1:]))
    return PersonRecord(key="", names=(name,), date_of_birth=date_of_birth)


def named_suspect(summary: str | None) -> PersonRecord | None:
    """The suspect a summary names with a valid date of birth (strong evidence), or ``None``."""
    person = read_suspect(summary)
    return person if person is not None and person.date_of_birth is not None else None


PERSON_LINK_THRESHOLD = 0.85
"""The matcher's score from which two named suspects (both with a date of birth) link."""
CANDIDATE_THRESHOLD = 0.80
"""The matcher's score from which two named suspects are a candidate link (a name alone can
reach it: homonyms are reviewed, never merged)."""
_KEY_PREFIX = "person:"


def person_key(person: PersonRecord) -> str:
    """The anchor key of a named suspect: date of birth (or ``undated``) and folded name
    (``person:1971-03-04:jan|kowalski``)."""
    name = person.names[0]
    born = person.date_of_birth.isoformat() if person.date_of_birth else "undated"
    return f"{_KEY_PREFIX}{born}:{fold(name.given)}|{fold(name.family)}"[:600]


def person_from_key(key: str) -> PersonRecord | None:
    """The suspect an anchor key stands for (as folded in the key)."""
    _, born, name = key.split(":", 2)
    given, _, family = name.partition("|")
    try:
        date_of_birth = None if born == "undated" else date.fromisoformat(born)
    except ValueError:
        return None
    return PersonRecord(key=key, names=(PersonName(given, family),), date_of_birth=date_of_birth)


def key_range(born: date) -> tuple[str, str]:
    """The first and the last anchor key of suspects born on ``born`` (``:`` + 1 is ``;``)."""
    return f"{_KEY_PREFIX}{born.isoformat()}:", f"{_KEY_PREFIX}{born.isoformat()};"


class SuspectIndex:
    """The named suspects already anchored, by date of birth, matched with the one matcher."""

    def __init__(self) -> None:
        self._by_birth: dict[date, list[tuple[str, PreparedPerson]]] = defaultdict(list)

    def add(self, key: str) -> None:
        """File the suspect of an anchor key."""
        person = person_from_key(key)
        if person is not None and person.date_of_birth is not None:
            self._by_birth[person.date_of_birth].append((key, prepare(person)))

    def matches(self, person: PersonRecord) -> list[tuple[str, float]]:
        """Anchor keys of the suspects alike ``person`` (same date of birth), with the score."""
        if person.date_of_birth is None:
            return []
        query = prepare(person)
        found = []
        for key, candidate in self._by_birth.get(person.date_of_birth, ()):
            match = score_pair(query, candidate, threshold=PERSON_LINK_THRESHOLD)
            if match is not None:
                found.append((key, match.score))
        return found
