"""The PDQ index of reported media, kept in memory and topped up from ``reported_hash``.

Reported media are paired with each other through their distinct PDQ values
(:class:`~veille.media.models.ReportedHash`): one row per value, whatever
the number of copies. Each process keeps an index of those rows — a main
MIH index plus a small brute-force "delta" of the rows added since — and
before each use reads only the rows with a higher id than it has seen.
Rows are added under the matching lock (:func:`veille.media.matching.match_reports`),
so ids grow in commit order and none is skipped. When the delta outgrows a
share of the main index, the two are merged and the main index is rebuilt
in memory (amortised: each row is rebuilt into the main index a bounded
number of times on average).

A database emptied or replaced under a running process (tests, a restore)
is noticed: the last row the index has seen is no longer there, and the
index is read again from scratch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from veille.media.mih import MihIndex, brute_force, hex_to_rows
from veille.media.models import ReportedHash

DELTA_MIN_ROWS = 2_000
DELTA_MAX_SHARE = 0.25

_U64 = npt.NDArray[np.uint64]
_I64 = npt.NDArray[np.int64]


def _empty_rows() -> _U64:
    return np.zeros((0, 4), dtype=np.uint64)


def _empty_ids() -> _I64:
    return np.zeros(0, dtype=np.int64)


@dataclass
class ReportedPdqIndex:
    """Distinct PDQ values of reported media → the first media item that had each."""

    main: MihIndex = field(default_factory=lambda: MihIndex.build(_empty_rows()))
    main_items: _I64 = field(default_factory=_empty_ids)
    delta_rows: _U64 = field(default_factory=_empty_rows)
    delta_items: _I64 = field(default_factory=_empty_ids)
    #: The highest ``reported_hash.id`` read, and its value (to notice a replaced database).
    seen_id: int = 0
    seen_value: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.main_items) + len(self.delta_items)

    def refresh(self, session: Session) -> None:
        """Read the rows added since the last call (all of them after a reset)."""
        if (
            self.seen_id
            and session.scalar(select(ReportedHash.value).where(ReportedHash.id == self.seen_id))
            != self.seen_value
        ):
            self.reset()
        rows = session.execute(
            select(ReportedHash.id, ReportedHash.value, ReportedHash.media_item_id)
            .where(ReportedHash.signal_type == "pdq", ReportedHash.id > self.seen_id)
            .order_by(ReportedHash.id)
        ).all()
        if not rows:
            return
        self.seen_id, self.seen_value = int(rows[-1][0]), str(rows[-1][1])
        self.delta_rows = np.concatenate([self.delta_rows, hex_to_rows([str(r[1]) for r in rows])])
        self.delta_items = np.concatenate(
            [self.delta_items, np.array([int(r[2]) for r in rows], dtype=np.int64)]
        )
        if len(self.delta_items) > max(DELTA_MIN_ROWS, DELTA_MAX_SHARE * len(self.main_items)):
            self.main = MihIndex.build(np.concatenate([self.main.rows, self.delta_rows]))
            self.main_items = np.concatenate([self.main_items, self.delta_items])
            self.delta_rows, self.delta_items = _empty_rows(), _empty_ids()

    def reset(self) -> None:
        """Forget every row read (the next :meth:`refresh` reads them all)."""
        self.main, self.main_items = MihIndex.build(_empty_rows()), _empty_ids()
        self.delta_rows, self.delta_items = _empty_rows(), _empty_ids()
        self.seen_id, self.seen_value = 0, None

    def query(self, pdq_hex: str, threshold_bits: int) -> list[tuple[int, int]]:
        """``(media item id, distance in bits)`` of each value within the threshold."""
        query = hex_to_rows([pdq_hex])[0]
        hits: list[tuple[int, int]] = []
        if len(self.main_items):
            positions, distances = self.main.query(query, threshold_bits)
            hits.extend(
                (int(self.main_items[p]), int(d))
                for p, d in zip(positions.tolist(), distances.tolist(), strict=True)
            )
        if len(self.delta_items):
            positions, distances = brute_force(query, self.delta_rows, threshold_bits)
            hits.extend(
                (int(self.delta_items[p]), int(d))
                for p, d in zip(positions.tolist(), distances.tolist(), strict=True)
            )
        return hits


_indexes: dict[str, ReportedPdqIndex] = {}
_indexes_lock = threading.Lock()


def reported_index(database_key: str) -> ReportedPdqIndex:
    """This process's index for the database named by ``database_key`` (its URL)."""
    with _indexes_lock:
        return _indexes.setdefault(database_key, ReportedPdqIndex())
