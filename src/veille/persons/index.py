"""Candidates without comparing all pairs: an in-memory index of persons by blocking keys.

A record is filed under:

- its date of birth (every name variation of a person born that day);
- each name token's phonetic key with two of the three parts of the date
  of birth, and with the year and the day and month in either order (a date
  of birth with one part wrong or day and month swapped, the name roughly
  right);
- its whole name's keys, regardless of given/family order (where either
  side has no date of birth);
- each document number.

A query looks up its own keys and scores each candidate once
(:func:`veille.persons.score.score_pair`). With 100,000 records a query
meets about ten candidates, most of them strangers born the same day,
dismissed on the family name before the given name is compared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date

from veille.persons.normalise import blocking_key
from veille.persons.records import PersonRecord, PreparedPerson, prepare
from veille.persons.score import DEFAULT_THRESHOLD, PersonMatch, score_pair

BlockKey = tuple[str, ...]


def _birth_parts(born: date) -> list[str]:
    # Two of year, month and day, and the year with day and month in either order: a date
    # of birth with one part wrong, or day and month swapped, shares one of these.
    low, high = sorted((born.month, born.day))
    return [
        f"y{born.year}m{born.month}",
        f"y{born.year}d{born.day}",
        f"m{born.month}d{born.day}",
        f"y{born.year}s{low}-{high}",
    ]


def blocking_keys(person: PreparedPerson, *, query: bool = False) -> set[BlockKey]:
    """Every key ``person`` is filed under (``query``: looked up under)."""
    keys: set[BlockKey] = set()
    born = person.record.date_of_birth
    if born is not None:
        keys.add(("dob", born.isoformat()))
    parts = _birth_parts(born) if born is not None else []
    for name in person.names:
        tokens = [token for token in (*name.given, *name.family) if len(token) > 1]
        token_keys = sorted({blocking_key(token) for token in tokens})
        keys.update(("token", key, part) for key in token_keys for part in parts)
        if token_keys:
            whole = "|".join(token_keys)
            # Persons without a date of birth are found by their whole name: an undated
            # query looks in every dated person's block, a dated query in the undated ones'.
            if born is None or not query:
                keys.add(("name", whole))
            if born is None or query:
                keys.add(("name-undated", whole))
    keys.update(("document", number) for number in person.documents)
    return keys


class PersonIndex:
    """Records filed by blocking key; :meth:`match` finds those alike a query."""

    def __init__(self, records: Iterable[PersonRecord] = ()) -> None:
        self._people: dict[str, PreparedPerson] = {}
        self._blocks: dict[BlockKey, list[str]] = defaultdict(list)
        for record in records:
            self.add(record)

    def __len__(self) -> int:
        return len(self._people)

    def add(self, record: PersonRecord) -> None:
        """File ``record`` (its key must be new)."""
        if record.key in self._people:
            raise ValueError(f"the index already holds a record with key {record.key!r}")
        person = prepare(record)
        self._people[record.key] = person
        for key in blocking_keys(person):
            self._blocks[key].append(record.key)

    def candidates(self, query: PreparedPerson) -> Iterator[PreparedPerson]:
        """Each record sharing a blocking key with ``query``, once."""
        seen: set[str] = set()
        for key in blocking_keys(query, query=True):
            for found in self._blocks.get(key, ()):
                if found not in seen:
                    seen.add(found)
                    yield self._people[found]

    def match(
        self, record: PersonRecord, *, threshold: float = DEFAULT_THRESHOLD
    ) -> list[PersonMatch]:
        """The records that score at least ``threshold`` against ``record``, best first."""
        query = prepare(record)
        found = [
            match
            for candidate in self.candidates(query)
            if (match := score_pair(query, candidate, threshold=threshold)) is not None
        ]
        found.sort(key=lambda match: (-match.score, match.key))
        return found
