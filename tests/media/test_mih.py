"""The MIH index finds exactly what a full scan finds, at every distance up to the threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veille.media.mih import MihIndex, brute_force, hex_to_rows, radii_for, rows_to_hex

RNG = np.random.default_rng(7)
BASE = RNG.integers(0, 2**63, size=(3000, 4), dtype=np.int64).astype(np.uint64) * np.uint64(2)
# A near-duplicate family: 200 members within a few bits of one hash.
FAMILY = np.repeat(BASE[:1], 200, axis=0)
for member in FAMILY[1:]:
    for bit in RNG.choice(256, size=6, replace=False):
        member[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
ROWS = np.ascontiguousarray(np.vstack([BASE, FAMILY]))


@pytest.fixture(scope="module")
def index() -> MihIndex:
    return MihIndex.build(ROWS, flat_below=0)


def _flip(row: np.ndarray, bits: list[int]) -> np.ndarray:
    out = row.copy()
    for bit in bits:
        out[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
    return out


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(0, len(ROWS) - 1),
    bits=st.lists(st.integers(0, 255), unique=True, max_size=40),
    threshold=st.integers(0, 47),
)
def test_index_equals_brute_force(
    index: MihIndex, position: int, bits: list[int], threshold: int
) -> None:
    query = _flip(ROWS[position], bits)
    got_pos, got_dist = index.query(query, threshold)
    want_pos, want_dist = brute_force(query, ROWS, threshold)
    assert sorted(zip(got_pos.tolist(), got_dist.tolist(), strict=True)) == sorted(
        zip(want_pos.tolist(), want_dist.tolist(), strict=True)
    )
    if len(bits) <= threshold:
        assert position in set(got_pos.tolist())


def test_adversarial_flips_spread_over_every_chunk(index: MihIndex) -> None:
    # 31 flips placed so that every chunk differs by more than one bit.
    bits = [start + offset for start in range(0, 256, 22) for offset in (0, 5, 10)][:31]
    query = _flip(ROWS[5], bits)
    positions, distances = index.query(query, 31)
    assert 5 in positions.tolist() and distances[positions.tolist().index(5)] == 31


def test_radii_guarantee_exactness() -> None:
    for threshold in range(48):
        assert (radii_for(threshold) + 1).sum() > threshold
    with pytest.raises(ValueError, match="at most 47"):
        radii_for(48)


def test_family_is_found_whole_and_capacity_grows(index: MihIndex) -> None:
    positions, _ = index.query(ROWS[0], 31, capacity=4)
    assert set(range(3000, 3200)) <= set(positions.tolist())


def test_hex_round_trip_and_flat_index() -> None:
    hexes = rows_to_hex(ROWS[:10])
    assert np.array_equal(hex_to_rows(hexes), ROWS[:10])
    flat = MihIndex.build(ROWS[:10])
    assert flat.is_flat
    positions, distances = flat.query(ROWS[3], 0)
    assert positions.tolist() == [3] and distances.tolist() == [0]


def test_save_and_load(index: MihIndex, tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "idx"
    index.save(folder)
    loaded = MihIndex.load(folder)
    assert not loaded.is_flat
    assert loaded.query(ROWS[7], 31)[0].tolist() == index.query(ROWS[7], 31)[0].tolist()


def test_candidate_buffer_overflow_still_finds_everything(index: MihIndex) -> None:
    index._touched = np.empty(8, dtype=np.int64)  # force the flush path
    try:
        positions, _ = index.query(ROWS[0], 31)
        again, _ = index.query(ROWS[1], 31)
    finally:
        index._touched = np.empty(1 << 18, dtype=np.int64)
    assert set(range(3000, 3200)) <= set(positions.tolist())
    assert set(again.tolist()) == set(brute_force(ROWS[1], ROWS, 31)[0].tolist())


def test_batch_equals_single_queries(index: MihIndex) -> None:
    queries = np.ascontiguousarray(np.vstack([ROWS[:20], ROWS[3000:3005]]))
    batch = index.query_batch(queries, 31)
    for query, (positions, distances) in zip(queries, batch, strict=True):
        single_positions, single_distances = index.query(query, 31)
        assert sorted(zip(positions.tolist(), distances.tolist(), strict=True)) == sorted(
            zip(single_positions.tolist(), single_distances.tolist(), strict=True)
        )
