"""An exact multi-index-hashing (MIH) index of PDQ hashes, compiled with numba.

The 256 bits are cut into 12 chunks (4 of 22 bits, 8 of 21). Each chunk has a
direct-addressed bucket table (CSR: offsets + positions). A query probes, in
chunk ``i``, every key within ``r_i`` bits of its own chunk; the radii are
chosen so that ``sum(r_i + 1) > threshold``: by the pigeonhole principle any
hash within ``threshold`` bits agrees with the query to within ``r_i`` bits
in at least one chunk, so the search is exact (no missed neighbour).

Memory latency, not arithmetic, bounds the speed: hashes sit in one array of
four ``uint64`` per row (two rows per cache line), candidates are verified
once (a per-query "already checked" bitmap), and positions of one bucket are
contiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

CHUNK_BITS = (22, 22, 22, 22, 21, 21, 21, 21, 21, 21, 21, 21)
MAX_RADIUS = 3
#: Below this many hashes a full scan (about 0.3 ms at 64k) beats the 128 MB of tables.
FLAT_BELOW = 65_536
U64 = npt.NDArray[np.uint64]


def chunk_starts() -> npt.NDArray[np.int64]:
    """The first bit of each chunk (bit 0 = most significant bit of the hex form)."""
    return np.concatenate([[0], np.cumsum(CHUNK_BITS)[:-1]]).astype(np.int64)


def radii_for(threshold_bits: int) -> npt.NDArray[np.int64]:
    """Per-chunk probe radii whose ``sum(r + 1)`` exceeds ``threshold_bits`` (exactness)."""
    chunks = len(CHUNK_BITS)
    need = threshold_bits + 1
    if need > chunks * (MAX_RADIUS + 1):
        raise ValueError(
            f"threshold {threshold_bits} bits is above what the index searches exactly "
            f"(at most {chunks * (MAX_RADIUS + 1) - 1})"
        )
    base, extra = divmod(need, chunks)
    # The narrower chunks (fewer probes per radius) take the larger radii.
    radii = np.full(chunks, base - 1, dtype=np.int64)
    for index in range(chunks - 1, chunks - 1 - extra, -1):
        radii[index] += 1
    return radii


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


PREFETCH_AHEAD = 16


@numba.njit(cache=True, inline="always")
def _popcount64(x: np.uint64) -> np.int64:  # pragma: no cover - compiled
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


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
    start: np.int64,
    width: np.int64,
    keys: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.uint32],
    positions: npt.NDArray[np.uint32],
) -> None:  # pragma: no cover - compiled
    # A counting sort of row numbers by chunk key (CSR: offsets, positions).
    count = rows.shape[0]
    for position in range(count):
        key = _chunk_key(rows[position], start, width)
        keys[position] = key
        offsets[key + 1] += 1
    for slot in range(offsets.shape[0] - 1):
        offsets[slot + 1] += offsets[slot]
    cursor = offsets[:-1].copy()
    for position in range(count):
        key = keys[position]
        positions[cursor[key]] = position
        cursor[key] += 1


def _build_tables(
    rows: U64, starts: npt.NDArray[np.int64], widths: npt.NDArray[np.int64]
) -> tuple[list[npt.NDArray[np.uint32]], list[npt.NDArray[np.uint32]]]:
    # The arrays are allocated by NumPy, not inside numba: NumPy asks for huge
    # pages on large allocations, which saves a TLB miss on most random reads.
    count = rows.shape[0]
    keys = np.empty(count, dtype=np.int64)
    offsets_list = []
    positions_list = []
    for start, width in zip(starts.tolist(), widths.tolist(), strict=True):
        offsets = np.zeros((1 << width) + 1, dtype=np.uint32)
        positions = np.empty(count, dtype=np.uint32)
        _fill_table(rows, np.int64(start), np.int64(width), keys, offsets, positions)
        offsets_list.append(offsets)
        positions_list.append(positions)
    return offsets_list, positions_list


@numba.njit(cache=True, inline="always")
def _probe_keys(
    key: np.int64, width: np.int64, radius: np.int64, keys: npt.NDArray[np.int64]
) -> np.int64:  # pragma: no cover
    count = np.int64(0)
    keys[count] = key
    count += 1
    if radius >= 1:
        for i in range(width):
            k1 = key ^ (1 << i)
            keys[count] = k1
            count += 1
            if radius >= 2:
                for j in range(i):
                    k2 = k1 ^ (1 << j)
                    keys[count] = k2
                    count += 1
                    if radius >= 3:
                        for m in range(j):
                            keys[count] = k2 ^ (1 << m)
                            count += 1
    return count


@numba.njit(cache=True, inline="always")
def _verify(
    query: U64,
    rows: U64,
    candidates: npt.NDArray[np.int64],
    count: np.int64,
    threshold: np.int64,
    emitted: npt.NDArray[np.uint8],
    out_pos: npt.NDArray[np.int64],
    out_dist: npt.NDArray[np.int64],
    n_out: np.int64,
) -> np.int64:  # pragma: no cover - compiled
    # Independent loads: the CPU keeps many row fetches in flight at once.
    for index in range(count):
        if index + PREFETCH_AHEAD < count:
            _prefetch(rows, candidates[index + PREFETCH_AHEAD])  # type: ignore[call-arg]  # intrinsic: numba passes typingctx
        position = candidates[index]
        row = rows[position]
        distance = (
            _popcount64(row[0] ^ query[0])
            + _popcount64(row[1] ^ query[1])
            + _popcount64(row[2] ^ query[2])
            + _popcount64(row[3] ^ query[3])
        )
        if distance <= threshold:
            # A neighbour shows up in several chunks: report it once.
            byte = position >> 3
            bit = np.uint8(1 << (position & 7))
            if emitted[byte] & bit:
                continue
            emitted[byte] |= bit
            if n_out < out_pos.shape[0]:
                out_pos[n_out] = position
                out_dist[n_out] = distance
            n_out += 1
    return n_out


@numba.njit(cache=True)
def _query_one(
    query: U64,
    rows: U64,
    offsets_list: list[npt.NDArray[np.uint32]],
    positions_list: list[npt.NDArray[np.uint32]],
    starts: npt.NDArray[np.int64],
    widths: npt.NDArray[np.int64],
    radii: npt.NDArray[np.int64],
    threshold: np.int64,
    seen: npt.NDArray[np.uint8],
    candidates: npt.NDArray[np.int64],
    out_pos: npt.NDArray[np.int64],
    out_dist: npt.NDArray[np.int64],
) -> np.int64:  # pragma: no cover - compiled
    # Per chunk, tight loops of independent memory reads (bucket bounds, then
    # bucket members, then rows), so that memory latency overlaps instead of
    # adding up. Members of small buckets are verified without a "seen" check
    # (duplicates are rare and cheaper to re-verify); members of large buckets
    # (near-duplicate families) are verified once. ``seen`` holds two bitmaps:
    # the first half for large-bucket members, the second for emitted results.
    half = seen.shape[0] // 2
    checked = seen[:half]
    emitted = seen[half:]
    keys = np.empty(1 + 22 + 231 + 1540, dtype=np.int64)
    low = np.empty(keys.shape[0], dtype=np.int64)
    high = np.empty(keys.shape[0], dtype=np.int64)
    marked = np.empty(4096, dtype=np.int64)
    n_marked = np.int64(0)
    n_out = np.int64(0)
    n_cand = np.int64(0)
    capacity = candidates.shape[0]
    for chunk in range(starts.shape[0]):
        radius = radii[chunk]
        if radius < 0:
            continue
        offsets = offsets_list[chunk]
        positions = positions_list[chunk]
        n_keys = _probe_keys(
            _chunk_key(query, starts[chunk], widths[chunk]), widths[chunk], radius, keys
        )
        for p in range(n_keys):
            low[p] = offsets[keys[p]]
            high[p] = offsets[keys[p] + 1]
        for p in range(n_keys):
            if p + PREFETCH_AHEAD < n_keys:
                _prefetch(positions, low[p + PREFETCH_AHEAD])  # type: ignore[call-arg]
            large = high[p] - low[p] > 16
            for slot in range(low[p], high[p]):
                position = np.int64(positions[slot])
                if large:
                    byte = position >> 3
                    bit = np.uint8(1 << (position & 7))
                    if checked[byte] & bit:
                        continue
                    checked[byte] |= bit
                    if n_marked < marked.shape[0]:
                        marked[n_marked] = byte
                    n_marked += 1
                candidates[n_cand] = position
                n_cand += 1
                if n_cand == capacity:
                    n_out = _verify(
                        query,
                        rows,
                        candidates,
                        n_cand,
                        threshold,
                        emitted,
                        out_pos,
                        out_dist,
                        n_out,
                    )
                    n_cand = np.int64(0)
    n_out = _verify(query, rows, candidates, n_cand, threshold, emitted, out_pos, out_dist, n_out)
    if n_marked <= marked.shape[0]:
        for index in range(n_marked):
            checked[marked[index]] = 0
    else:
        checked[:] = 0
    if n_out <= out_pos.shape[0]:
        for index in range(n_out):
            emitted[out_pos[index] >> 3] = 0
    else:
        emitted[:] = 0
    return n_out


@numba.njit(cache=True)
def _query_many(
    queries: U64,
    rows: U64,
    offsets_list: list[npt.NDArray[np.uint32]],
    positions_list: list[npt.NDArray[np.uint32]],
    starts: npt.NDArray[np.int64],
    widths: npt.NDArray[np.int64],
    radii: npt.NDArray[np.int64],
    threshold: np.int64,
    seen: npt.NDArray[np.uint8],
    touched: npt.NDArray[np.int64],
    out_pos: npt.NDArray[np.int64],
    out_dist: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
) -> np.int64:  # pragma: no cover - compiled
    used = np.int64(0)
    for index in range(queries.shape[0]):
        found = _query_one(
            queries[index], rows, offsets_list, positions_list, starts, widths, radii,
            threshold, seen, touched, out_pos[used:], out_dist[used:],
        )  # fmt: skip
        if found > out_pos.shape[0] - used:
            return np.int64(-1)  # out of room: the caller retries with more
        counts[index] = found
        used += found
    return used


@numba.njit(cache=True)
def _brute_force(
    query: U64,
    rows: U64,
    threshold: np.int64,
    out_pos: npt.NDArray[np.int64],
    out_dist: npt.NDArray[np.int64],
) -> np.int64:  # pragma: no cover - compiled
    n_out = np.int64(0)
    for position in range(rows.shape[0]):
        row = rows[position]
        distance = (
            _popcount64(row[0] ^ query[0])
            + _popcount64(row[1] ^ query[1])
            + _popcount64(row[2] ^ query[2])
            + _popcount64(row[3] ^ query[3])
        )
        if distance <= threshold:
            if n_out < out_pos.shape[0]:
                out_pos[n_out] = position
                out_dist[n_out] = distance
            n_out += 1
    return n_out


@dataclass
class MihIndex:
    """An immutable, exact PDQ index over ``rows`` (positions are row numbers)."""

    rows: U64
    offsets: list[npt.NDArray[np.uint32]]
    positions: list[npt.NDArray[np.uint32]]

    @classmethod
    def build(cls, rows: U64, flat_below: int = FLAT_BELOW) -> MihIndex:
        """Index an N×4 ``uint64`` array of hashes (small sets are scanned, not indexed)."""
        rows = np.ascontiguousarray(rows, dtype=np.uint64)
        if rows.shape[0] >= 2**32:
            raise ValueError("the index holds at most 2**32 - 1 hashes")
        if rows.shape[0] < flat_below:
            return cls(rows, [], [])
        offsets, positions = _build_tables(
            rows, chunk_starts(), np.array(CHUNK_BITS, dtype=np.int64)
        )
        return cls(rows, list(offsets), list(positions))

    @property
    def is_flat(self) -> bool:
        """Whether queries scan every row (small sets) instead of probing tables."""
        return not self.offsets

    def __post_init__(self) -> None:
        self._starts = chunk_starts()
        self._widths = np.array(CHUNK_BITS, dtype=np.int64)
        self._seen = np.zeros(2 * (self.rows.shape[0] // 8 + 1), dtype=np.uint8)
        self._touched = np.empty(1 << 18, dtype=np.int64)
        if self.offsets:
            self._typed_offsets = numba.typed.List(self.offsets)
            self._typed_positions = numba.typed.List(self.positions)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def _radii(self, threshold_bits: int) -> npt.NDArray[np.int64]:
        cache: dict[int, npt.NDArray[np.int64]] = self.__dict__.setdefault("_radii_cache", {})
        if threshold_bits not in cache:
            cache[threshold_bits] = radii_for(threshold_bits)
        return cache[threshold_bits]

    @property
    def nbytes(self) -> int:
        """Memory held by the hashes and the tables."""
        return int(
            self.rows.nbytes
            + sum(a.nbytes for a in self.offsets)
            + sum(a.nbytes for a in self.positions)
            + self._seen.nbytes
        )

    def query(
        self, query: U64, threshold_bits: int = 31, capacity: int = 1024
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Positions and distances of every hash within ``threshold_bits`` of one query row."""
        if self.is_flat:
            return brute_force(query, self.rows, threshold_bits)
        radii = self._radii(threshold_bits)
        query = np.ascontiguousarray(query, dtype=np.uint64).reshape(4)
        while True:
            out_pos = np.empty(capacity, dtype=np.int64)
            out_dist = np.empty(capacity, dtype=np.int64)
            found = _query_one(
                query, self.rows, self._typed_offsets, self._typed_positions, self._starts,
                self._widths, radii, np.int64(threshold_bits), self._seen, self._touched,
                out_pos, out_dist,
            )  # fmt: skip
            if found <= capacity:
                return out_pos[:found], out_dist[:found]
            capacity = int(found)

    def query_batch(
        self, queries: U64, threshold_bits: int = 31
    ) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """``query`` for each row of ``queries``, in one compiled loop."""
        queries = np.ascontiguousarray(queries, dtype=np.uint64).reshape(-1, 4)
        if self.is_flat:
            return [brute_force(q, self.rows, threshold_bits) for q in queries]
        radii = radii_for(threshold_bits)
        capacity = max(1024, 64 * len(queries))
        while True:
            out_pos = np.empty(capacity, dtype=np.int64)
            out_dist = np.empty(capacity, dtype=np.int64)
            counts = np.zeros(len(queries), dtype=np.int64)
            used = _query_many(
                queries, self.rows, self._typed_offsets, self._typed_positions, self._starts,
                self._widths, radii, np.int64(threshold_bits), self._seen, self._touched,
                out_pos, out_dist, counts,
            )  # fmt: skip
            if used >= 0:
                break
            capacity *= 4
        bounds = np.concatenate([[0], np.cumsum(counts)])
        return [
            (out_pos[bounds[i] : bounds[i + 1]], out_dist[bounds[i] : bounds[i + 1]])
            for i in range(len(queries))
        ]

    def save(self, folder: Path) -> None:
        """Write the arrays to ``folder`` (one ``.npy`` file each)."""
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "rows.npy", self.rows)
        for chunk, (offsets, positions) in enumerate(
            zip(self.offsets, self.positions, strict=True)
        ):
            np.save(folder / f"offsets_{chunk}.npy", offsets)
            np.save(folder / f"positions_{chunk}.npy", positions)

    @classmethod
    def load(cls, folder: Path) -> MihIndex:
        """Read an index written by ``save``."""
        rows = np.load(folder / "rows.npy")
        if not (folder / "offsets_0.npy").exists():
            return cls(rows, [], [])
        offsets = [np.load(folder / f"offsets_{c}.npy") for c in range(len(CHUNK_BITS))]
        positions = [np.load(folder / f"positions_{c}.npy") for c in range(len(CHUNK_BITS))]
        return cls(rows, offsets, positions)


def brute_force(
    query: U64, rows: U64, threshold_bits: int = 31
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every row within ``threshold_bits`` of ``query`` by a full scan (small sets, tests)."""
    query = np.ascontiguousarray(query, dtype=np.uint64).reshape(4)
    capacity = 1024
    while True:
        out_pos = np.empty(capacity, dtype=np.int64)
        out_dist = np.empty(capacity, dtype=np.int64)
        found = _brute_force(query, rows, np.int64(threshold_bits), out_pos, out_dist)
        if found <= capacity:
            return out_pos[:found], out_dist[:found]
        capacity = int(found)
