"""The one person matcher: is this traveller, suspect or subject a person already recorded?

Shared by the travel watch (a travel notice against the watch list) and by
linking (named suspects across reports). It imports no capability: callers
turn their rows into :class:`PersonRecord` s, file them in a
:class:`PersonIndex`, and get back :class:`PersonMatch` es with a score and
the fields that agreed. Spelling, case, accents, swapped given and family
names, initials and transliteration are tolerated (:mod:`.normalise`,
:mod:`.score`); blocking keeps it from comparing all pairs (:mod:`.index`).
"""

from __future__ import annotations

from veille.persons.index import PersonIndex, blocking_keys
from veille.persons.normalise import blocking_key, fold, fold_tokens, normalise_document, skeleton
from veille.persons.records import PersonName, PersonRecord, PreparedPerson, prepare
from veille.persons.score import DEFAULT_THRESHOLD, PersonMatch, birth_similarity, score_pair

__all__ = [
    "DEFAULT_THRESHOLD",
    "PersonIndex",
    "PersonMatch",
    "PersonName",
    "PersonRecord",
    "PreparedPerson",
    "birth_similarity",
    "blocking_key",
    "blocking_keys",
    "fold",
    "fold_tokens",
    "normalise_document",
    "prepare",
    "score_pair",
    "skeleton",
]
