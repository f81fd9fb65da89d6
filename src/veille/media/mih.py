"""An exact multi-index-hashing (MIH) index of PDQ hashes, compiled with numba.

The 256 bits are cut into 11 chunks (one of 20 bits, four of 23, six of 24).
A query probes, in chunk ``i``, every key within ``r_i`` bits of its own
chunk; the radii are chosen so that ``sum(r_i + 1) > threshold``: by the
pigeonhole principle any hash within ``threshold`` bits agrees with the query
to within ``r_i`` bits in at least one chunk, so the search is exact (no
missed neighbour).

Memory latency, not arithmetic, bounds the speed: a query costs roughly one
random read per probed bucket plus one per candidate row, so the layout is
chosen to keep both counts low within 1 GB at 10M hashes. Each chunk has a
direct-addressed table over its first ``prefix`` bits (CSR: offsets, then
entries in bucket order); the chunk's remaining bits (the suffix) are packed
into the spare high bits of each 32-bit entry beside the row number, so a
bucket is filtered to the exact chunk radius without touching the hash rows.
Wide chunks (few candidates) thus cost no more table memory than narrow ones.
Candidates are verified with a popcount over four ``uint64`` words, with
software prefetching, in hash rows aligned to cache lines (one line per
candidate); members of large buckets (near-duplicate families) are verified
once per query.

Large near-duplicate families (one image re-encoded thousands of times) are
taken out of the tables: probing them costs every member once per chunk in
which it shares the query's bucket, milliseconds for a family of 100k. At
build time an over-full bucket (thousands of entries where two or three are
expected) signals a family; its representative is the bitwise majority of the
bucket's rows, and every row within ``FAMILY_RADIUS`` bits of it joins the
family. Members are kept contiguously, sorted by their distance to the
representative. A query compares itself with each representative; by the
triangle inequality only members whose distance to the representative lies
within ``threshold`` of the query's own can match, a contiguous band that is
verified in one sequential popcount pass (about 2 ns per member). Every row is
in exactly one place, a family or the tables, so the search stays exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Chunk widths in bits (sum 256), chosen with the cost model of ``radii_for``:
#: at threshold 31 the 20-bit chunk is probed at radius 1, the others at 2.
CHUNK_BITS = (20, 23, 23, 23, 23, 24, 24, 24, 24, 24, 24)
MAX_RADIUS = 4
MAX_THRESHOLD_BITS = 47
#: Below this many hashes a full scan (about 0.3 ms at 64k) beats the tables.
FLAT_BELOW = 65_536
#: Buckets with more members than this (near-duplicate families) are deduplicated.
LARGE_BUCKET = 64
#: A table bucket with this many entries (and 32 times its expected load) marks a family.
FAMILY_MIN_ROWS = 1024
#: Rows within this many bits of a family's representative join the family.
FAMILY_RADIUS = 40
MAX_FAMILIES = 64
PREFETCH_AHEAD = 16
FORMAT_VERSION = 3
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def position_bits(count: int) -> int:
    """Bits that a row number of an index of ``count`` rows needs."""
    return max(1, (count - 1).bit_length())


def plan_for(count: int, prefix_bits: int | None = None) -> I64:
    """Per chunk: first bit, width, table (prefix) bits and table offset.

    The prefix is about ``log2(count) - 1`` bits (two to three hashes per
    bucket), never narrower than the 32-bit entries can make up for with
    suffix bits beside the row number.
    """
    spare = 32 - position_bits(count)
    if prefix_bits is None:
        prefix_bits = min(24, max(8, round(math.log2(max(count, 2))) - 1))
    plan = np.zeros((len(CHUNK_BITS), 4), dtype=np.int64)
    start = table = 0
    for chunk, width in enumerate(CHUNK_BITS):
        prefix = min(width, max(prefix_bits, width - spare))
        plan[chunk] = (start, width, prefix, table)
        start += width
        table += (1 << prefix) + 1
    return plan


def _ball(bits: int, radius: int) -> int:
    return sum(math.comb(bits, k) for k in range(radius + 1))


def _probe_cost(count: int, width: int, prefix: int, radius: int) -> float:
    # Expected random memory reads: bucket lines (offsets, then entries), and
    # candidate rows (hashes within ``radius`` of the query's chunk).
    if radius < 0:
        return 0.0
    per_bucket = count / 2**prefix
    return _ball(prefix, radius) * (1 + per_bucket / 16) + _ball(width, radius) * count / 2**width


def radii_for(threshold_bits: int, plan: I64, count: int) -> I64:
    """Per-chunk probe radii whose ``sum(r + 1)`` exceeds ``threshold_bits`` (exactness).

    Each unit of radius goes where it adds the least expected work (the costs
    are convex in the radius, so this greedy choice is the cheapest); a radius
    of -1 skips the chunk.
    """
    if not 0 <= threshold_bits <= MAX_THRESHOLD_BITS:
        raise ValueError(
            f"threshold {threshold_bits} bits is outside what the index searches exactly "
            f"(0 to at most {MAX_THRESHOLD_BITS})"
        )
    radii = [-1] * plan.shape[0]
    shape = [(int(width), int(prefix)) for _, width, prefix, _ in plan.tolist()]
    for _ in range(threshold_bits + 1):
        _, chunk = min(
            (_probe_cost(count, w, p, radii[c] + 1) - _probe_cost(count, w, p, radii[c]), c)
            for c, (w, p) in enumerate(shape)
            if radii[c] < MAX_RADIUS
        )
        radii[chunk] += 1
    return np.array(radii, dtype=np.int64)


def _cache_aligned(shape: tuple[int, ...], dtype: type[np.generic]) -> npt.NDArray[Any]:
    # Rows of 32 bytes that start on a 64-byte boundary never straddle two
    # cache lines: one memory read per candidate instead of two for half of
    # them (NumPy's own large allocations start 16 bytes into a page).
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffer = np.empty(nbytes + 64, dtype=np.uint8)
    start = -buffer.ctypes.data % 64
    return buffer[start : start + nbytes].view(dtype).reshape(shape)


def _load_rows(path: Path) -> U64:
    """``np.load`` of an N×4 ``uint64`` array, straight into cache-aligned memory."""
    with path.open("rb") as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        if dtype != np.uint64 or fortran_order or len(shape) != 2 or shape[1] != 4:
            raise ValueError(f"{path}: not an N×4 array of uint64 hashes")
        rows = _cache_aligned(shape, np.uint64)
        if rows.nbytes and stream.readinto(rows.data.cast("B")) != rows.nbytes:
            raise ValueError(f"{path}: truncated")
    return rows


def hex_to_rows(hashes: list[str] | npt.NDArray[np.str_]) -> U64:
    """PDQ hex strings → an N×4 ``uint64`` array (word 0 holds hex characters 0–15)."""
    if len(hashes) == 0:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(hashes)), dtype=">u8").reshape(-1, 4)
    return np.ascontiguousarray(raw.astype(np.uint64))


def rows_to_hex(rows: U64) -> list[str]:
    """The inverse of ``hex_to_rows``."""
    return [f"{int(a):016x}{int(b):016x}{int(c):016x}{int(d):016x}" for a, b, c, d in rows.tolist()]


@intrinsic
def _prefetch(typingctx: Any, array: Any, index: Any) -> Any:  # pragma: no cover - compiled
    """Ask the CPU to start fetching ``array[index]`` (first element of that row)."""
    signature = types.void(array, index)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        array_type = sig.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        first = context.cast(builder, args[1], sig.args[1], types.intp)
        zero = context.get_constant(types.intp, 0)
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, view, [first] + [zero] * (array_type.ndim - 1)
        )
        byte_pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())
        int32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte_pointer.type, int32, int32, int32]),
            "llvm.prefetch.p0i8",
        )
        # read, high temporal locality, data cache
        builder.call(
            function,
            [byte_pointer, ir.Constant(int32, 0), ir.Constant(int32, 3), ir.Constant(int32, 1)],
        )
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def _popcount(typingctx: Any, value: Any) -> Any:  # pragma: no cover - compiled
    """The number of one bits of a ``uint64`` (one ``popcnt`` instruction)."""
    signature = types.int64(types.uint64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        int64 = ir.IntType(64)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(int64, [int64]), "llvm.ctpop.i64"
        )
        return builder.call(function, [args[0]])

    return signature, codegen


@numba.njit(cache=True, inline="always")
def _distance(query: U64, rows: U64, position: np.int64 | int) -> np.int64:  # pragma: no cover
    return (
        _popcount(rows[position, 0] ^ query[0])  # type: ignore[call-arg]  # intrinsic: numba passes typingctx
        + _popcount(rows[position, 1] ^ query[1])  # type: ignore[call-arg]
        + _popcount(rows[position, 2] ^ query[2])  # type: ignore[call-arg]
        + _popcount(rows[position, 3] ^ query[3])  # type: ignore[call-arg]
    )


@numba.njit(cache=True, inline="always")
def _chunk_key(row: U64, start: np.int64, width: np.int64) -> np.int64:  # pragma: no cover
    word = start // 64
    offset = start % 64
    # Bits [start, start+width) counted from the most significant bit of word 0.
    if offset + width <= 64:
        value = row[word] >> np.uint64(64 - offset - width)
    else:
        high_bits = 64 - offset
        low_bits = width - high_bits
        value = (row[word] << np.uint64(low_bits)) | (row[word + 1] >> np.uint64(64 - low_bits))
    return np.int64(value & np.uint64((1 << width) - 1))


@numba.njit(cache=True)
def _fill_table(
    rows: U64,
    plan: I64,
    chunk: np.int64,
    keys: I64,
    offsets: npt.NDArray[np.uint32],
    entries: npt.NDArray[np.uint32],
) -> None:  # pragma: no cover - compiled
    # A counting sort of row numbers by chunk prefix (CSR: offsets, entries);
    # each entry is the row number with the chunk's suffix bits above it.
    start, width, prefix, base = plan[chunk, 0], plan[chunk, 1], plan[chunk, 2], plan[chunk, 3]
    suffix_bits = width - prefix
    suffix_mask = (np.int64(1) << suffix_bits) - 1
    count = rows.shape[0]
    row_bits = np.int64(1)
    while (np.int64(1) << row_bits) < count:
        row_bits += 1
    for position in range(count):
        key = _chunk_key(rows[position], start, width)
        keys[position] = key
        offsets[base + (key >> suffix_bits) + 1] += 1
    size = np.int64(1) << prefix
    for slot in range(size):
        offsets[base + slot + 1] += offsets[base + slot]
    cursor = offsets[base : base + size].copy()
    for position in range(count):
        key = keys[position]
        bucket = key >> suffix_bits
        entries[cursor[bucket]] = np.uint32(position | ((key & suffix_mask) << row_bits))
        cursor[bucket] += 1


@numba.njit(cache=True)
def _drop_members(
    offsets: npt.NDArray[np.uint32],
    entries: npt.NDArray[np.uint32],
    plan: I64,
    count: np.int64,
    in_family: npt.NDArray[np.uint8],
) -> np.int64:  # pragma: no cover - compiled
    # Removes family members from the tables of all chunks, in place: the
    # ``chunks × count`` entries (flat) keep their order and are packed to the
    # front, ``chunks × kept`` of them; returns ``kept``. ``in_family`` is a
    # bitmap (little bit order): it stays in cache under random lookups.
    row_bits = np.int64(1)
    while (np.int64(1) << row_bits) < count:
        row_bits += 1
    row_mask = np.uint32((np.int64(1) << row_bits) - 1)
    write = np.int64(0)
    for chunk in range(plan.shape[0]):
        base = plan[chunk, 3]
        source = chunk * count
        first = write
        old_low = np.int64(offsets[base])
        for bucket in range(np.int64(1) << plan[chunk, 2]):
            old_high = np.int64(offsets[base + bucket + 1])
            for slot in range(source + old_low, source + old_high):
                entry = entries[slot]
                row = entry & row_mask
                if not (in_family[row >> 3] >> (row & 7)) & 1:
                    entries[write] = entry
                    write += 1
            offsets[base + bucket + 1] = np.uint32(write - first)
            old_low = old_high
    return write // plan.shape[0]


@numba.njit(cache=True)
def _join_family(
    rows: U64,
    representative: U64,
    radius: np.int64,
    family_of: npt.NDArray[np.int32],
    family: np.int32,
) -> np.int64:  # pragma: no cover - compiled
    # Rows of no family yet within ``radius`` of the representative join ``family``.
    joined = np.int64(0)
    for position in range(rows.shape[0]):
        if family_of[position] < 0 and _distance(representative, rows, position) <= radius:
            family_of[position] = family
            joined += 1
    return joined


@numba.njit(cache=True, inline="always")
def _probe_keys(
    key: np.int64, width: np.int64, radius: np.int64, keys: I64, flips: I64
) -> np.int64:  # pragma: no cover - compiled
    # Every key within ``radius`` bits of ``key``, with its number of flipped bits.
    count = np.int64(0)
    keys[count] = key
    flips[count] = 0
    count += 1
    if radius >= 1:
        for i in range(width):
            k1 = key ^ (1 << i)
            keys[count] = k1
            flips[count] = 1
            count += 1
            if radius >= 2:
                for j in range(i):
                    k2 = k1 ^ (1 << j)
                    keys[count] = k2
                    flips[count] = 2
                    count += 1
                    if radius >= 3:
                        for m in range(j):
                            k3 = k2 ^ (1 << m)
                            keys[count] = k3
                            flips[count] = 3
                            count += 1
                            if radius >= 4:
                                for o in range(m):
                                    keys[count] = k3 ^ (1 << o)
                                    flips[count] = 4
                                    count += 1
    return count


@numba.njit(cache=True, inline="always")
def _verify(
    query: U64,
    rows: U64,
    candidates: I64,
    count: np.int64,
    threshold: np.int64,
    emitted: npt.NDArray[np.uint8],
    out: I64,
    n_out: np.int64,
) -> np.int64:  # pragma: no cover - compiled
    # Independent loads: the CPU keeps many row fetches in flight at once.
    for index in range(count):
        if index + PREFETCH_AHEAD < count:
            _prefetch(rows, candidates[index + PREFETCH_AHEAD])  # type: ignore[call-arg]  # intrinsic: numba passes typingctx
        position = candidates[index]
        distance = _distance(query, rows, position)
        if distance <= threshold:
            # A neighbour shows up in several chunks: report it once.
            byte = position >> 3
            bit = np.uint8(1 << (position & 7))
            if emitted[byte] & bit:
                continue
            emitted[byte] |= bit
            if n_out < out.shape[1]:
                out[0, n_out] = position
                out[1, n_out] = distance
            n_out += 1
    return n_out


@numba.njit(cache=True)
def _query_one(
    query: U64,
    rows: U64,
    offsets: npt.NDArray[np.uint32],
    entries: npt.NDArray[np.uint32],
    plan: I64,
    radii: I64,
    threshold: np.int64,
    seen: npt.NDArray[np.uint8],
    scratch: I64,
    candidates: I64,
    out: I64,
    family_representatives: U64,
    family_rows: U64,
    family_positions: npt.NDArray[np.uint32],
    family_offsets: I64,
) -> np.int64:  # pragma: no cover - compiled
    # Per chunk, tight loops of independent memory reads (bucket bounds, then
    # bucket entries), so that memory latency overlaps instead of adding up;
    # candidate rows are verified in batches. ``seen`` holds one stamp byte per
    # row (members of large buckets already taken by this query carry the
    # query's stamp, so no clearing between queries), a bitmap of emitted
    # results, and the last stamp used.
    count = rows.shape[0]
    stamps = seen[:count]
    emitted = seen[count : seen.shape[0] - 1]
    generation = np.int64(seen[seen.shape[0] - 1]) + 1
    if generation > 255:
        stamps[:] = 0
        generation = np.int64(1)
    seen[seen.shape[0] - 1] = generation
    stamp = np.uint8(generation)
    keys = scratch[0]
    flips = scratch[1]
    low = scratch[2]
    high = scratch[3]
    row_bits = np.int64(1)
    while (np.int64(1) << row_bits) < count:
        row_bits += 1
    row_mask = np.uint32((np.int64(1) << row_bits) - 1)
    n_out = np.int64(0)
    n_cand = np.int64(0)
    capacity = candidates.shape[0]
    for chunk in range(plan.shape[0]):
        radius = radii[chunk]
        if radius < 0:
            continue
        start, width, prefix, base = plan[chunk, 0], plan[chunk, 1], plan[chunk, 2], plan[chunk, 3]
        suffix_bits = width - prefix
        query_key = _chunk_key(query, start, width)
        query_suffix = np.uint32(query_key & ((np.int64(1) << suffix_bits) - 1))
        n_keys = _probe_keys(query_key >> suffix_bits, prefix, radius, keys, flips)
        for p in range(n_keys):
            low[p] = offsets[base + keys[p]]
            high[p] = offsets[base + keys[p] + 1]
        chunk_entries = entries[chunk]
        for p in range(n_keys):
            if p + PREFETCH_AHEAD < n_keys:
                _prefetch(chunk_entries, low[p + PREFETCH_AHEAD])  # type: ignore[call-arg]
            # Suffix bits may differ by what the prefix's flips left of the radius.
            allowed = radius - flips[p]
            if high[p] - low[p] <= LARGE_BUCKET:
                # Branch-free: write every entry, advance past those that pass.
                for slot in range(low[p], high[p]):
                    entry = chunk_entries[slot]
                    candidates[n_cand] = np.int64(entry & row_mask)
                    suffix_distance = _popcount(np.uint64((entry >> row_bits) ^ query_suffix))  # type: ignore[call-arg,var-annotated]
                    n_cand += np.int64(suffix_distance <= allowed)
            else:
                # A near-duplicate family: each member is verified once per query.
                # Branch-free as well: members pass or repeat unpredictably.
                for slot in range(low[p], high[p]):
                    entry = chunk_entries[slot]
                    position = np.int64(entry & row_mask)
                    suffix_distance = _popcount(np.uint64((entry >> row_bits) ^ query_suffix))  # type: ignore[call-arg]
                    passes = suffix_distance <= allowed
                    before = stamps[position]
                    stamps[position] = stamp if passes else before
                    candidates[n_cand] = position
                    n_cand += np.int64(passes & (before != stamp))
                    if n_cand == capacity:
                        n_out = _verify(
                            query, rows, candidates, n_cand, threshold, emitted, out, n_out
                        )
                        n_cand = np.int64(0)
            if n_cand > capacity - LARGE_BUCKET - 1:
                n_out = _verify(query, rows, candidates, n_cand, threshold, emitted, out, n_out)
                n_cand = np.int64(0)
    n_out = _verify(query, rows, candidates, n_cand, threshold, emitted, out, n_out)
    if n_out <= out.shape[1]:
        for index in range(n_out):
            emitted[out[0, index] >> 3] = 0
    else:
        emitted[:] = 0
    for family in range(family_representatives.shape[0]):
        to_representative = _distance(query, family_representatives, family)
        # Triangle inequality: |d(q, r) - d(r, m)| <= d(q, m), so only members
        # whose distance to the representative is within ``threshold`` of the
        # query's can match: one contiguous band of the sorted members.
        low = to_representative - threshold
        high = to_representative + threshold + 1
        begin = family_offsets[family, low if low > 0 else 0]
        end = family_offsets[family, high if high < 257 else 257]
        if n_out + end - begin <= out.shape[1]:
            # Branch-free: write every member, advance past those that match.
            for index in range(begin, end):
                distance = _distance(query, family_rows, index)
                out[0, n_out] = family_positions[index]
                out[1, n_out] = distance
                n_out += np.int64(distance <= threshold)
        else:
            for index in range(begin, end):
                distance = _distance(query, family_rows, index)
                if distance <= threshold:
                    if n_out < out.shape[1]:
                        out[0, n_out] = family_positions[index]
                        out[1, n_out] = distance
                    n_out += 1
    return n_out


@numba.njit(cache=True)
def _query_many(
    queries: U64,
    rows: U64,
    offsets: npt.NDArray[np.uint32],
    entries: npt.NDArray[np.uint32],
    plan: I64,
    radii: I64,
    threshold: np.int64,
    seen: npt.NDArray[np.uint8],
    scratch: I64,
    candidates: I64,
    out: I64,
    counts: I64,
    family_representatives: U64,
    family_rows: U64,
    family_positions: npt.NDArray[np.uint32],
    family_offsets: I64,
) -> np.int64:  # pragma: no cover - compiled
    used = np.int64(0)
    for index in range(queries.shape[0]):
        found = _query_one(
            queries[index], rows, offsets, entries, plan, radii, threshold, seen, scratch,
            candidates, out[:, used:], family_representatives, family_rows, family_positions,
            family_offsets,
        )  # fmt: skip
        if found > out.shape[1] - used:
            return np.int64(-1)  # out of room: the caller retries with more
        counts[index] = found
        used += found
    return used


@numba.njit(cache=True)
def _brute_force(
    query: U64, rows: U64, threshold: np.int64, out: I64
) -> np.int64:  # pragma: no cover
    n_out = np.int64(0)
    for position in range(rows.shape[0]):
        distance = _distance(query, rows, position)
        if distance <= threshold:
            if n_out < out.shape[1]:
                out[0, n_out] = position
                out[1, n_out] = distance
            n_out += 1
    return n_out


def _majority(rows: U64) -> U64:
    """The bitwise majority of ``rows`` (a central hash of a near-duplicate family)."""
    bits = np.unpackbits(np.ascontiguousarray(rows).view(np.uint8), axis=1)
    majority = bits.sum(axis=0, dtype=np.int64) * 2 > len(rows)
    return np.packbits(majority).view(np.uint64).copy()


def find_families(
    rows: U64,
    plan: I64,
    offsets: npt.NDArray[np.uint32],
    entries: npt.NDArray[np.uint32],
    min_rows: int = FAMILY_MIN_ROWS,
    radius: int = FAMILY_RADIUS,
    max_families: int = MAX_FAMILIES,
) -> tuple[npt.NDArray[np.int32], U64]:
    """The family of each row (-1: none) and each family's representative.

    Over-full buckets of the tables (``min_rows`` entries and 32 times the
    expected load) are visited largest first; one whose rows are not yet in a
    family gives a representative (their bitwise majority), and every row
    within ``radius`` bits of it joins the family, unless fewer than
    ``min_rows // 2`` do (a bucket of unrelated rows sharing one chunk).
    """
    count = rows.shape[0]
    row_mask = np.uint32((1 << position_bits(count)) - 1)
    buckets: list[tuple[int, int, npt.NDArray[np.uint32]]] = []
    for chunk, (_, _, prefix, base) in enumerate(plan.tolist()):
        bounds = offsets[base : base + (1 << prefix) + 1].astype(np.int64)
        sizes = np.diff(bounds)
        for bucket in np.flatnonzero(sizes >= max(min_rows, 32 * count >> prefix)).tolist():
            members = entries[chunk, bounds[bucket] : bounds[bucket + 1]] & row_mask
            buckets.append((len(members), chunk, members))
    family_of = np.full(count, -1, dtype=np.int32)
    representatives: list[U64] = []
    for _, _, bucket_rows in sorted(buckets, key=lambda b: (-b[0], b[1])):
        if len(representatives) == max_families:
            break
        free = bucket_rows[family_of[bucket_rows] < 0]
        if len(free) < min_rows // 2:
            continue
        representative = _majority(rows[free[:: max(1, len(free) // 4096)]])
        family = np.int32(len(representatives))
        joined = _join_family(rows, representative, np.int64(radius), family_of, family)
        if joined < min_rows // 2:
            family_of[family_of == family] = -1
            continue
        representatives.append(representative)
    return family_of, np.array(representatives, dtype=np.uint64).reshape(-1, 4)


def family_layout(
    rows: U64, family_of: npt.NDArray[np.int32], representatives: U64
) -> tuple[npt.NDArray[np.uint32], I64]:
    """Members' row numbers by family, then distance to the representative; band offsets.

    ``offsets[f, d]`` is where the members of family ``f`` at ``d`` bits or
    more from the representative begin (``d`` from 0 to 257).
    """
    members = np.flatnonzero(family_of >= 0)
    family = family_of[members].astype(np.int64)
    distance = np.bitwise_count(rows[members] ^ representatives[family]).sum(axis=1, dtype=np.int64)
    order = np.lexsort((distance, family))
    n_families = representatives.shape[0]
    counts = np.bincount(family * 257 + distance, minlength=n_families * 257)
    before = np.concatenate([[0], np.cumsum(counts)])
    offsets = before[np.arange(n_families)[:, None] * 257 + np.arange(258)[None, :]]
    return members[order].astype(np.uint32), offsets.astype(np.int64).reshape(n_families, 258)


@dataclass
class MihIndex:
    """An immutable, exact PDQ index over ``rows`` (positions are row numbers).

    Queries reuse scratch buffers held by the index: one query at a time per
    index object.
    """

    rows: U64
    plan: I64 = field(default_factory=lambda: np.zeros((0, 4), dtype=np.int64))
    offsets: npt.NDArray[np.uint32] = field(default_factory=lambda: np.zeros(0, dtype=np.uint32))
    entries: npt.NDArray[np.uint32] = field(
        default_factory=lambda: np.zeros((0, 0), dtype=np.uint32)
    )
    #: Near-duplicate families kept out of the tables: representatives (F×4),
    #: members' row numbers (by family, then distance to the representative),
    #: and the band offsets of ``family_layout``.
    family_representatives: U64 = field(default_factory=lambda: np.zeros((0, 4), dtype=np.uint64))
    family_positions: npt.NDArray[np.uint32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.uint32)
    )
    family_offsets: I64 = field(default_factory=lambda: np.zeros((0, 258), dtype=np.int64))

    @classmethod
    def build(
        cls,
        rows: U64,
        flat_below: int = FLAT_BELOW,
        prefix_bits: int | None = None,
        family_min_rows: int = FAMILY_MIN_ROWS,
    ) -> MihIndex:
        """Index an N×4 ``uint64`` array of hashes (small sets are scanned, not indexed).

        ``prefix_bits`` overrides the table size chosen from the row count and
        ``family_min_rows`` the bucket size that marks a family (tests use
        them to cover other layouts).
        """
        count = rows.shape[0]
        if count >= 2**32:
            raise ValueError("the index holds at most 2**32 - 1 hashes")
        if count < flat_below or count == 0:
            return cls(np.ascontiguousarray(rows, dtype=np.uint64))
        aligned = _cache_aligned(rows.shape, np.uint64)
        aligned[...] = rows
        rows = aligned
        plan = plan_for(count, prefix_bits)
        # Allocated by NumPy, not inside numba: NumPy asks for huge pages on
        # large allocations, which saves a TLB miss on most random reads.
        chunks = plan.shape[0]
        offsets = np.zeros(int(plan[-1, 3]) + (1 << int(plan[-1, 2])) + 1, dtype=np.uint32)
        flat_entries = np.empty(chunks * count, dtype=np.uint32)
        keys = np.empty(count, dtype=np.int64)
        for chunk in range(chunks):
            entries = flat_entries[chunk * count : (chunk + 1) * count]
            _fill_table(rows, plan, np.int64(chunk), keys, offsets, entries)
        del keys, entries
        # Families are found from the filled tables (their over-full buckets).
        family_of, representatives = find_families(
            rows, plan, offsets, flat_entries.reshape(chunks, count), family_min_rows
        )
        positions, family_offsets = family_layout(rows, family_of, representatives)
        kept = count
        if len(positions):
            in_family = np.packbits(family_of >= 0, bitorder="little")
            kept = int(_drop_members(offsets, flat_entries, plan, np.int64(count), in_family))
            # Shrinks the allocation in place (no copy; no view of it is alive).
            flat_entries.resize(chunks * kept, refcheck=False)
        del family_of
        entries = flat_entries.reshape(chunks, kept)
        return cls(rows, plan, offsets, entries, representatives, positions, family_offsets)

    @property
    def is_flat(self) -> bool:
        """Whether queries scan every row (small sets) instead of probing tables."""
        return self.plan.shape[0] == 0

    def __post_init__(self) -> None:
        count = self.rows.shape[0]
        # Members' hashes in family order: one sequential pass per band.
        self._family_rows = _cache_aligned((len(self.family_positions), 4), np.uint64)
        self._family_rows[...] = self.rows[self.family_positions]
        self._seen = np.zeros(count + count // 8 + 2, dtype=np.uint8)
        self._candidates = np.empty(1 << 16, dtype=np.int64)
        self._out = np.empty((2, 1024), dtype=np.int64)
        self._scratch = np.empty((4, 4096), dtype=np.int64)
        self._radii: dict[int, I64] = {}

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def radii(self, threshold_bits: int) -> I64:
        """The probe radius of each chunk for ``threshold_bits`` (-1: chunk skipped)."""
        radii = self._radii.get(threshold_bits)
        if radii is None:
            radii = radii_for(threshold_bits, self.plan, len(self))
            probes = max(
                _ball(int(prefix), int(radius))
                for prefix, radius in zip(self.plan[:, 2].tolist(), radii.tolist(), strict=True)
            )
            if probes > self._scratch.shape[1]:
                self._scratch = np.empty((4, probes), dtype=np.int64)
            self._radii[threshold_bits] = radii
        return radii

    @property
    def nbytes(self) -> int:
        """Memory held by the hashes and the tables."""
        families = (
            self.family_representatives.nbytes + self.family_positions.nbytes
            + self.family_offsets.nbytes + self._family_rows.nbytes
        )  # fmt: skip
        tables = self.offsets.nbytes + self.entries.nbytes + self._seen.nbytes
        return int(self.rows.nbytes + tables + families)

    @property
    def family_sizes(self) -> list[int]:
        """The number of members of each near-duplicate family kept out of the tables."""
        return np.diff(self.family_offsets[:, [0, 257]], axis=1).ravel().tolist()

    def _families(self) -> tuple[U64, U64, npt.NDArray[np.uint32], I64]:
        return (
            self.family_representatives, self._family_rows, self.family_positions,
            self.family_offsets,
        )  # fmt: skip

    def query(self, query: U64, threshold_bits: int = 31, capacity: int = 1024) -> tuple[I64, I64]:
        """Positions and distances of every hash within ``threshold_bits`` of one query row."""
        if self.is_flat:
            return brute_force(query, self.rows, threshold_bits)
        radii = self.radii(threshold_bits)
        query = np.ascontiguousarray(query, dtype=np.uint64).reshape(4)
        # Room for every family member: bands are then written branch-free.
        capacity += len(self.family_positions)
        if self._out.shape[1] < capacity:
            self._out = np.empty((2, capacity), dtype=np.int64)
        out = self._out
        while True:
            found = _query_one(
                query, self.rows, self.offsets, self.entries, self.plan, radii,
                np.int64(threshold_bits), self._seen, self._scratch, self._candidates, out,
                *self._families(),
            )  # fmt: skip
            if found <= out.shape[1]:
                return out[0, :found].copy(), out[1, :found].copy()
            # Keep the larger buffer: queries near a large family need it again.
            out = self._out = np.empty((2, int(found)), dtype=np.int64)

    def query_batch(self, queries: U64, threshold_bits: int = 31) -> list[tuple[I64, I64]]:
        """``query`` for each row of ``queries``, in one compiled loop."""
        queries = np.ascontiguousarray(queries, dtype=np.uint64).reshape(-1, 4)
        if self.is_flat:
            return [brute_force(q, self.rows, threshold_bits) for q in queries]
        radii = self.radii(threshold_bits)
        capacity = max(1024, 64 * len(queries)) + len(self.family_positions)
        while True:
            out = np.empty((2, capacity), dtype=np.int64)
            counts = np.zeros(len(queries), dtype=np.int64)
            used = _query_many(
                queries, self.rows, self.offsets, self.entries, self.plan, radii,
                np.int64(threshold_bits), self._seen, self._scratch, self._candidates, out, counts,
                *self._families(),
            )  # fmt: skip
            if used >= 0:
                break
            capacity *= 4
        bounds = np.concatenate([[0], np.cumsum(counts)])
        return [
            (out[0, bounds[i] : bounds[i + 1]], out[1, bounds[i] : bounds[i + 1]])
            for i in range(len(queries))
        ]

    def save(self, folder: Path) -> None:
        """Write the arrays to ``folder`` (one ``.npy`` file each)."""
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "rows.npy", self.rows)
        np.save(folder / "plan.npy", self.plan)
        np.save(folder / "offsets.npy", self.offsets)
        np.save(folder / "entries.npy", self.entries)
        np.save(folder / "family_representatives.npy", self.family_representatives)
        np.save(folder / "family_positions.npy", self.family_positions)
        np.save(folder / "family_offsets.npy", self.family_offsets)
        (folder / "format").write_text(f"{FORMAT_VERSION}\n")

    @classmethod
    def load(cls, folder: Path) -> MihIndex:
        """Read an index written by ``save``; ``ValueError`` for another format or a bad file."""
        version = (folder / "format").read_text().strip() if (folder / "format").exists() else "1"
        if version != str(FORMAT_VERSION):
            raise ValueError(f"{folder}: index format {version}, expected {FORMAT_VERSION}")
        rows = _load_rows(folder / "rows.npy")
        plan = np.load(folder / "plan.npy")
        offsets = np.load(folder / "offsets.npy")
        entries = np.load(folder / "entries.npy")
        representatives = np.load(folder / "family_representatives.npy")
        positions = np.load(folder / "family_positions.npy")
        family_offsets = np.load(folder / "family_offsets.npy")
        count = rows.shape[0] if rows.ndim == 2 else -1
        valid = (
            rows.dtype == np.uint64 and rows.ndim == 2 and rows.shape[1] == 4
            and plan.dtype == np.int64 and offsets.dtype == np.uint32
            and entries.dtype == np.uint32
            and representatives.dtype == np.uint64 and representatives.ndim == 2
            and representatives.shape[1] == 4 and positions.dtype == np.uint32
            and family_offsets.dtype == np.int64
            and family_offsets.shape == (representatives.shape[0], 258)
            and (len(positions) == 0 or int(positions.max()) < count)
            and (family_offsets.size == 0 or int(family_offsets[-1, -1]) == len(positions))
            and (plan.shape[0] == 0 or entries.shape == (plan.shape[0], count - len(positions)))
        )  # fmt: skip
        if not valid:
            raise ValueError(f"{folder}: index arrays do not fit together")
        return cls(rows, plan, offsets, entries, representatives, positions, family_offsets)


def brute_force(query: U64, rows: U64, threshold_bits: int = 31) -> tuple[I64, I64]:
    """Every row within ``threshold_bits`` of ``query`` by a full scan (small sets, tests)."""
    query = np.ascontiguousarray(query, dtype=np.uint64).reshape(4)
    capacity = 1024
    while True:
        out = np.empty((2, capacity), dtype=np.int64)
        found = _brute_force(query, rows, np.int64(threshold_bits), out)
        if found <= capacity:
            return out[0, :found], out[1, :found]
        capacity = int(found)
