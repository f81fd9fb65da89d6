"""The MIH index finds exactly what a full scan finds, at every distance up to the threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veille.media.mih import (
    CHUNK_BITS,
    LARGE_BUCKET,
    MAX_RADIUS,
    MihIndex,
    brute_force,
    hex_to_rows,
    plan_for,
    position_bits,
    radii_for,
    rows_to_hex,
)

RNG = np.random.default_rng(7)
BASE = RNG.integers(0, 2**63, size=(3000, 4), dtype=np.int64).astype(np.uint64) * np.uint64(2)
# A near-duplicate family: 200 members within a few bits of one hash.
FAMILY = np.repeat(BASE[:1], 200, axis=0)
for member in FAMILY[1:]:
    for bit in RNG.choice(256, size=6, replace=False):
        member[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
ROWS = np.ascontiguousarray(np.vstack([BASE, FAMILY]))


# Table sizes: chosen from the row count; narrow tables with wide suffixes
# packed beside the row numbers; one table per full chunk (no suffix).
LAYOUTS = [None, 8, 24]


@pytest.fixture(scope="module", params=LAYOUTS, ids=["default", "prefix-8", "prefix-24"])
def index(request: pytest.FixtureRequest) -> MihIndex:
    return MihIndex.build(ROWS, flat_below=0, prefix_bits=request.param)


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


@pytest.mark.parametrize("count", [3_200, 65_536, 1_000_000, 10_000_000, 2**32 - 1])
def test_radii_guarantee_exactness(count: int) -> None:
    plan = plan_for(count)
    for threshold in range(48):
        radii = radii_for(threshold, plan, count)
        assert (radii + 1).sum() > threshold
        assert radii.max() <= MAX_RADIUS
    with pytest.raises(ValueError, match="at most 47"):
        radii_for(48, plan, count)


@pytest.mark.parametrize("count", [2, 3_200, 65_536, 10_000_000, 2**24 + 1, 2**28, 2**32 - 1])
@pytest.mark.parametrize("prefix_bits", [None, 8, 24])
def test_plan_packs_suffix_and_row_number_in_32_bits(count: int, prefix_bits: int | None) -> None:
    plan = plan_for(count, prefix_bits)
    assert plan[:, 1].tolist() == list(CHUNK_BITS) and sum(CHUNK_BITS) == 256
    assert plan[:, 0].tolist() == [sum(CHUNK_BITS[:i]) for i in range(len(CHUNK_BITS))]
    suffix_bits = plan[:, 1] - plan[:, 2]
    assert (suffix_bits >= 0).all()
    assert (suffix_bits + position_bits(count) <= 32).all()


def test_ten_million_layout_probes_the_narrow_chunk_at_radius_one() -> None:
    # The layout the benchmark measures: 22-bit tables, radius 2 except the 20-bit chunk.
    plan = plan_for(10_000_000)
    assert plan[:, 2].tolist() == [20] + [22] * 10
    assert radii_for(31, plan, 10_000_000).tolist() == [1] + [2] * 10


def test_family_is_found_whole_and_the_result_buffer_grows(index: MihIndex) -> None:
    index._out = np.empty((2, 4), dtype=np.int64)
    positions, _ = index.query(ROWS[0], 31)
    assert set(range(3000, 3200)) <= set(positions.tolist())
    assert index._out.shape[1] >= len(positions)
    again, _ = index.query(ROWS[1], 31)  # the returned arrays are not overwritten
    assert set(range(3000, 3200)) <= set(positions.tolist()) and len(again) > 0


def test_hex_round_trip_and_flat_index() -> None:
    hexes = rows_to_hex(ROWS[:10])
    assert np.array_equal(hex_to_rows(hexes), ROWS[:10])
    flat = MihIndex.build(ROWS[:10])
    assert flat.is_flat
    positions, distances = flat.query(ROWS[3], 0)
    assert positions.tolist() == [3] and distances.tolist() == [0]


def test_save_and_load(index: MihIndex, tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    index.save(folder)
    loaded = MihIndex.load(folder)
    assert not loaded.is_flat
    assert np.array_equal(loaded.plan, index.plan)
    # Hash rows start on a cache line, built or loaded (one memory read per candidate).
    assert index.rows.ctypes.data % 64 == 0 and loaded.rows.ctypes.data % 64 == 0
    assert loaded.query(ROWS[7], 31)[0].tolist() == index.query(ROWS[7], 31)[0].tolist()


def test_flat_index_saves_and_loads(tmp_path: Path) -> None:
    flat = MihIndex.build(ROWS[:10])
    flat.save(tmp_path / "flat")
    loaded = MihIndex.load(tmp_path / "flat")
    assert loaded.is_flat and loaded.query(ROWS[3], 0)[0].tolist() == [3]


def test_empty_index_saves_and_loads(tmp_path: Path) -> None:
    # A database with no known items yet still has an index on disk.
    empty = MihIndex.build(np.zeros((0, 4), dtype=np.uint64))
    empty.save(tmp_path / "empty")
    loaded = MihIndex.load(tmp_path / "empty")
    assert loaded.query(ROWS[3], 31)[0].tolist() == []


def test_load_refuses_an_index_of_another_format(tmp_path: Path) -> None:
    # The layout of version 1 (one offsets/positions file per chunk, no format file).
    folder = tmp_path / "old"
    folder.mkdir()
    np.save(folder / "rows.npy", ROWS)
    np.save(folder / "offsets_0.npy", np.zeros(3, dtype=np.uint32))
    with pytest.raises(ValueError, match="format 1"):
        MihIndex.load(folder)


def test_load_refuses_an_index_saved_before_families(index: MihIndex, tmp_path: Path) -> None:
    # Format 2: the same tables, without the family files.
    folder = tmp_path / "v2"
    index.save(folder)
    (folder / "format").write_text("2\n")
    with pytest.raises(ValueError, match="format 2"):
        MihIndex.load(folder)


def test_load_refuses_arrays_that_do_not_fit_together(index: MihIndex, tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    index.save(folder)
    np.save(folder / "rows.npy", ROWS[:100])
    with pytest.raises(ValueError, match="do not fit"):
        MihIndex.load(folder)


def test_candidate_buffer_overflow_still_finds_everything(index: MihIndex) -> None:
    saved = index._candidates
    index._candidates = np.empty(LARGE_BUCKET + 2, dtype=np.int64)  # force the flush paths
    try:
        positions, _ = index.query(ROWS[0], 31)
        again, _ = index.query(ROWS[1], 31)
    finally:
        index._candidates = saved
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


def test_repeated_queries_past_the_stamp_wrap_stay_exact(index: MihIndex) -> None:
    # Family members are taken once per query by a one-byte stamp that comes
    # back every 255 queries (all stamps are cleared then): a family query
    # exactly 255 queries after the previous one must not see its old stamps.
    want = sorted(brute_force(ROWS[3000], ROWS, 31)[0].tolist())
    for number in range(3 * 255 + 1):
        if number % 255 == 0:
            assert sorted(index.query(ROWS[3000], 31)[0].tolist()) == want
        else:
            index.query(ROWS[5], 31)


def _family(
    rng: np.random.Generator, centre: np.ndarray, size: int, low: int, high: int
) -> np.ndarray:
    """``size`` hashes ``low``–``high`` bits (exactly) from ``centre``."""
    return np.array(
        [
            _flip(
                centre,
                rng.choice(256, size=int(rng.integers(low, high + 1)), replace=False).tolist(),
            )
            for _ in range(size)
        ]
    )


FAMILY_RNG = np.random.default_rng(11)
CENTRES = FAMILY_RNG.integers(0, 2**63, size=(4, 4), dtype=np.int64).astype(np.uint64) * np.uint64(
    3
)
# Unrelated rows that share their first chunk: an over-full bucket that is no family.
SHARED_CHUNK = FAMILY_RNG.integers(0, 2**63, size=(200, 4), dtype=np.int64).astype(np.uint64)
SHARED_CHUNK[:, 0] = (SHARED_CHUNK[:, 0] & np.uint64(2**44 - 1)) | (
    CENTRES[3, 0] >> np.uint64(44) << np.uint64(44)
)
FAMILY_ROWS = np.ascontiguousarray(
    np.vstack(
        [
            BASE,
            _family(FAMILY_RNG, CENTRES[0], 400, 0, 6),  # tight
            _family(FAMILY_RNG, CENTRES[1], 600, 10, 30),  # loose
            np.repeat(CENTRES[2:3], 150, axis=0),  # one hash listed 150 times
            SHARED_CHUNK,
        ]
    )
)
FAMILY_MIN = 64


@pytest.fixture(scope="module", params=[None, 24], ids=["default", "prefix-24"])
def family_index(request: pytest.FixtureRequest) -> MihIndex:
    return MihIndex.build(
        FAMILY_ROWS, flat_below=0, prefix_bits=request.param, family_min_rows=FAMILY_MIN
    )


def test_dense_families_are_taken_out_of_the_tables(family_index: MihIndex) -> None:
    # The three planted families, whole; the rows sharing one chunk are no family.
    assert sorted(family_index.family_sizes) == [150, 400, 600]
    members = set(family_index.family_positions.tolist())
    assert members == set(range(3000, 4150))
    assert family_index.entries.shape == (len(CHUNK_BITS), len(FAMILY_ROWS) - 1150)


@settings(max_examples=400, deadline=None)
@given(
    source=st.sampled_from(["member", "centre", "base", "shared"]),
    pick=st.integers(0, 10_000),
    n_bits=st.integers(0, 90),
    threshold=st.integers(0, 47),
    seed=st.integers(0, 2**32 - 1),
)
def test_index_with_families_equals_brute_force(
    family_index: MihIndex, source: str, pick: int, n_bits: int, threshold: int, seed: int
) -> None:
    # Queries at every distance from a family's representative, so that the
    # band of members to verify is cut at both ends, or empty.
    if source == "member":
        start = FAMILY_ROWS[3000 + pick % 1150]
    elif source == "centre":
        start = CENTRES[pick % 3]
    elif source == "base":
        start = BASE[pick % 3000]
    else:
        start = SHARED_CHUNK[pick % 200]
    bits = np.random.default_rng(seed).choice(256, size=n_bits, replace=False).tolist()
    query = _flip(start, bits)
    got_pos, got_dist = family_index.query(query, threshold)
    want_pos, want_dist = brute_force(query, FAMILY_ROWS, threshold)
    assert sorted(zip(got_pos.tolist(), got_dist.tolist(), strict=True)) == sorted(
        zip(want_pos.tolist(), want_dist.tolist(), strict=True)
    )


def test_family_band_edges_are_exact(family_index: MihIndex) -> None:
    # For each family and each distance of the query from its representative:
    # members exactly at the threshold are found, one bit further are not.
    for family, representative in enumerate(family_index.family_representatives):
        for distance in range(0, 100, 3):
            query = _flip(representative, list(range(0, 256, 5))[:distance])
            positions, distances = family_index.query(query, 31)
            want = brute_force(query, FAMILY_ROWS, 31)
            assert sorted(positions.tolist()) == sorted(want[0].tolist()), (family, distance)
            assert sorted(distances.tolist()) == sorted(want[1].tolist())


def test_batch_with_families_equals_single_queries(family_index: MihIndex) -> None:
    queries = np.ascontiguousarray(
        np.vstack([FAMILY_ROWS[2990:3010], CENTRES, FAMILY_ROWS[4100:4120]])
    )
    batch = family_index.query_batch(queries, 31)
    for query, (positions, distances) in zip(queries, batch, strict=True):
        single_positions, single_distances = family_index.query(query, 31)
        assert sorted(zip(positions.tolist(), distances.tolist(), strict=True)) == sorted(
            zip(single_positions.tolist(), single_distances.tolist(), strict=True)
        )


def test_family_results_larger_than_the_buffer(family_index: MihIndex) -> None:
    family_index._out = np.empty((2, 4), dtype=np.int64)
    positions, _ = family_index.query(CENTRES[1], 47, capacity=1)
    assert sorted(positions.tolist()) == sorted(
        brute_force(CENTRES[1], FAMILY_ROWS, 47)[0].tolist()
    )
    batch = family_index.query_batch(np.repeat(CENTRES[:3], 30, axis=0), 47)
    assert sorted(batch[-1][0].tolist()) == sorted(
        brute_force(CENTRES[2], FAMILY_ROWS, 47)[0].tolist()
    )


def test_families_are_saved_and_loaded(family_index: MihIndex, tmp_path: Path) -> None:
    family_index.save(tmp_path / "idx")
    loaded = MihIndex.load(tmp_path / "idx")
    assert loaded.family_sizes == family_index.family_sizes
    for query in [CENTRES[0], CENTRES[1], FAMILY_ROWS[3500], BASE[9]]:
        assert sorted(loaded.query(query, 31)[0].tolist()) == sorted(
            family_index.query(query, 31)[0].tolist()
        )
    assert loaded._family_rows.ctypes.data % 64 == 0
