"""Signal types: validation, comparison, examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veille.media.signals import (
    SIGNAL_TYPES,
    PdqSignal,
    SignalError,
    guess_signal_type,
    signal_type,
)


@pytest.mark.parametrize("name", sorted(SIGNAL_TYPES))
def test_every_signal_type_validates_its_own_examples(name: str) -> None:
    kind = SIGNAL_TYPES[name]
    examples = kind.get_examples()
    assert examples
    for example in examples:
        assert kind.validate(example.upper()) == example
        assert kind.distance(example, example) == 0


@pytest.mark.parametrize(
    ("name", "bad"), [("md5", "abc"), ("sha1", "z" * 40), ("sha256", "0" * 63), ("pdq", "g" * 64)]
)
def test_bad_hash_strings_name_what_was_expected(name: str, bad: str) -> None:
    with pytest.raises(SignalError, match="hexadecimal characters"):
        SIGNAL_TYPES[name].validate(bad)


def test_pdq_distance_counts_differing_bits() -> None:
    first, second, third = PdqSignal.get_examples()
    assert PdqSignal.distance(first, second) == 2
    assert PdqSignal.matches(first, third, 31)
    assert not PdqSignal.matches(first, "0" * 64, 31)


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_pdq_distance_is_a_metric(left: bytes, right: bytes) -> None:
    a, b = left.hex(), right.hex()
    assert PdqSignal.distance(a, b) == PdqSignal.distance(b, a)
    assert (PdqSignal.distance(a, b) == 0) == (a == b)
    assert PdqSignal.distance(a, b) <= PdqSignal.distance(a, "0" * 64) + PdqSignal.distance(
        "0" * 64, b
    )


def test_names_and_bare_hashes_resolve() -> None:
    assert signal_type("PDQ") is PdqSignal
    with pytest.raises(SignalError, match="unknown signal type 'photodna'"):
        signal_type("photodna")
    assert guess_signal_type("a" * 32).name == "md5"
    assert guess_signal_type("a" * 40).name == "sha1"
    assert guess_signal_type("a" * 64).name == "pdq"
    with pytest.raises(SignalError, match="is not a hash"):
        guess_signal_type("xyz")
