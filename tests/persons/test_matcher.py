"""The person matcher: spelling, case, accents, swapped names, initials, transliteration, homonyms."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from faker import Faker
from hypothesis import given
from hypothesis import strategies as st

from veille.persons import (
    DEFAULT_THRESHOLD,
    PersonIndex,
    PersonName,
    PersonRecord,
    fold,
    prepare,
    score_pair,
    skeleton,
)

BORN = date(1971, 3, 14)


def _record(
    key: str, given: str, family: str, born: date | None = BORN, **extra: object
) -> PersonRecord:
    return PersonRecord(key, (PersonName(given, family),), born, **extra)  # type: ignore[arg-type]


@pytest.fixture
def watch_index() -> PersonIndex:
    return PersonIndex(
        [
            PersonRecord("cyrillic", (PersonName("Юрий", "Андреев"),), BORN, "UA"),
            _record("accented", "José", "Müller-Ortega", date(1981, 5, 6), nationality="ES"),
            _record("plain", "Thomas", "Bernard", date(1965, 11, 2), nationality="FR"),
        ]
    )


@pytest.mark.parametrize(
    ("given_name", "family_name"),
    [
        ("Yuriy", "Andreyev"),  # BGN/PCGN
        ("Iouri", "Andreiev"),  # French
        ("Jurij", "Andrejew"),  # German
        ("Yurii", "Andreev"),  # ICAO 9303
    ],
)
def test_a_transliterated_name_matches_the_name_in_its_own_script(
    watch_index: PersonIndex, given_name: str, family_name: str
) -> None:
    found = watch_index.match(_record("notice", given_name, family_name))
    assert [m.key for m in found] == ["cyrillic"]
    assert found[0].score >= 0.95
    assert found[0].fields["date_of_birth"] == 1.0


@pytest.mark.parametrize(
    ("given_name", "family_name", "note"),
    [
        ("JOSE", "MULLER-ORTEGA", None),  # upper case, accents stripped
        ("Müller-Ortega", "José", "swapped"),
        ("J.", "Müller-Ortega", "initials"),
        ("José", "Muler-Ortega", "spelling"),
        ("Jose", "Müller Ortaga", None),  # a typo
    ],
)
def test_case_accents_swapped_names_initials_and_typos_match(
    watch_index: PersonIndex, given_name: str, family_name: str, note: str | None
) -> None:
    found = watch_index.match(_record("notice", given_name, family_name, date(1981, 5, 6)))
    assert [m.key for m in found] == ["accented"]
    assert found[0].score >= DEFAULT_THRESHOLD
    if note:
        assert note in found[0].notes


@pytest.mark.parametrize(
    ("recorded", "written"),
    [
        (("Захар", "Дурдинець"), ("Sachar", "Durdinez")),  # German: З as s, Х as ch, Ц as z
        (("Храбър", "Тъпков"), ("Hrabar", "Tapkov")),  # Bulgarian: Ъ is a vowel
        (("Щоно", "Татьозов"), ("Schtschono", "Tatjosow")),  # the soft sign is no separator
        (("Joseph", "Rich"), ("Joseph", "Rih")),  # a typo on a letter the skeleton merges
        (("Юрий", "Андреев"), ("Ю.", "Андреев")),  # an initial in Cyrillic (folds to "yu")
        (("Юрий", "Андреев"), ("J.", "Andrejew")),  # and in German transliteration
    ],
)
def test_harder_transliterations_and_typos_match(
    recorded: tuple[str, str], written: tuple[str, str]
) -> None:
    index = PersonIndex([_record("w", *recorded)])
    assert [m.key for m in index.match(_record("n", *written))] == ["w"]


def test_brothers_born_the_same_day_with_close_given_names_do_not_match() -> None:
    index = PersonIndex([PersonRecord("w", (PersonName("Никодим", "Носков"),), BORN, "RU")])
    assert index.match(PersonRecord("n", (PersonName("Nikolai", "Noskov"),), BORN, "RU")) == []


def test_a_homonym_born_another_day_scores_below_the_person_and_the_threshold() -> None:
    person = prepare(_record("watched", "Thomas", "Bernard", date(1965, 11, 2)))
    same_person = prepare(_record("n1", "THOMAS", "BERNARD", date(1965, 11, 2)))
    homonym = prepare(_record("n2", "Thomas", "Bernard", date(1979, 4, 23)))
    true_match = score_pair(same_person, person)
    decoy = score_pair(homonym, person)
    assert true_match is not None and decoy is not None
    assert decoy.score < DEFAULT_THRESHOLD < true_match.score
    assert decoy.fields["date_of_birth"] == 0.0
    assert "date_of_birth" not in decoy.matched_fields


def test_another_person_with_the_same_family_name_and_birthday_does_not_match(
    watch_index: PersonIndex,
) -> None:
    assert watch_index.match(_record("n", "Claire", "Bernard", date(1965, 11, 2))) == []


def test_a_date_of_birth_with_day_and_month_swapped_still_matches(watch_index: PersonIndex) -> None:
    found = watch_index.match(_record("n", "Thomas", "Bernard", date(1965, 2, 11)))
    assert [m.key for m in found] == ["plain"]
    assert found[0].fields["date_of_birth"] == 0.8


def test_a_shared_document_number_lifts_the_score() -> None:
    watched = prepare(_record("w", "Thomas", "Bernard", documents=("FR 12AB-34567",)))
    traveller = prepare(_record("n", "T.", "Bernardo", None, documents=("fr12ab34567",)))
    found = score_pair(traveller, watched)
    assert found is not None and found.fields["document"] == 1.0
    assert found.score >= DEFAULT_THRESHOLD


def test_a_transliteration_on_the_record_is_matched_as_an_alias() -> None:
    index = PersonIndex(
        [PersonRecord("w", (PersonName("Ахмед", "Саидов"), PersonName("Akhmed", "Saidov")), BORN)]
    )
    found = index.match(_record("n", "Achmed", "Saidow"))
    assert [m.key for m in found] == ["w"]


def test_blocking_does_not_compare_all_pairs() -> None:
    faker = Faker("en_US")
    faker.seed_instance(14)
    records = [
        _record(
            f"p{n}",
            faker.first_name(),
            faker.last_name(),
            faker.date_of_birth(minimum_age=20, maximum_age=70),
        )
        for n in range(5000)
    ]
    index = PersonIndex(records)
    for record in records[:50]:
        query = prepare(replace(record, key="q"))
        assert len(list(index.candidates(query))) < 100
        assert record.key in [m.key for m in index.match(query.record)]


def test_a_key_filed_twice_is_refused() -> None:
    index = PersonIndex([_record("a", "A", "B")])
    with pytest.raises(ValueError, match="'a'"):
        index.add(_record("a", "C", "D"))


@given(st.text(max_size=30))
def test_folding_gives_ascii_lower_case_tokens(text: str) -> None:
    folded = fold(text)
    assert folded == folded.strip()
    assert all(
        token.isascii() and token.isalnum() and token == token.lower() for token in folded.split()
    )
    assert all(skeleton(token) for token in folded.split())
