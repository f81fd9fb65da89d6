"""The persisted PDQ index of known items, beside the database.

The index holds every known item's PDQ hash in an exact MIH index
(``veille.media.mih``), plus the item and list of each row. It is saved under
``resolved_index_dir()/pdq`` with a small state file describing what it
covers. On load it is brought up to date cheaply: items added since (higher
ids) go to a small brute-force "delta", tombstoned items are filtered out at
query time; when the delta grows large, or the covered items changed in any
other way, the index is rebuilt from the database and saved again.

Exact hashes (MD5, SHA-1, SHA-256) need no index of their own: they are
looked up in the database, whose columns are indexed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from veille.media.mih import MihIndex, brute_force, hex_to_rows
from veille.media.models import KnownItem

STATE_VERSION = 1
#: Rebuild when the delta exceeds this many rows or this share of the index.
DELTA_MAX_ROWS = 50_000
DELTA_MAX_SHARE = 0.25


@dataclass(frozen=True)
class PdqHit:
    """A known item whose PDQ hash is within the threshold of a query."""

    item_id: int
    list_id: int
    distance_bits: int


@dataclass
class KnownPdqIndex:
    """PDQ hashes of known items: a main MIH index plus a small delta."""

    main: MihIndex
    item_ids: npt.NDArray[np.int64]
    list_ids: npt.NDArray[np.int64]
    covered: dict[str, Any]
    delta_rows: npt.NDArray[np.uint64] = field(
        default_factory=lambda: np.zeros((0, 4), dtype=np.uint64)
    )
    delta_item_ids: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64)
    )
    delta_list_ids: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64)
    )
    tombstoned: frozenset[int] = frozenset()
    rebuilt: bool = False

    def __len__(self) -> int:
        return len(self.item_ids) + len(self.delta_item_ids) - len(self.tombstoned)

    def query(self, pdq_hex: str, threshold_bits: int = 31) -> list[PdqHit]:
        """Every live known item within ``threshold_bits`` of ``pdq_hex``, nearest first."""
        query = hex_to_rows([pdq_hex])[0]
        hits: list[PdqHit] = []
        if len(self.item_ids):
            positions, distances = self.main.query(query, threshold_bits)
            hits.extend(
                PdqHit(int(self.item_ids[p]), int(self.list_ids[p]), int(d))
                for p, d in zip(positions, distances, strict=True)
            )
        if len(self.delta_item_ids):
            positions, distances = brute_force(query, self.delta_rows, threshold_bits)
            hits.extend(
                PdqHit(int(self.delta_item_ids[p]), int(self.delta_list_ids[p]), int(d))
                for p, d in zip(positions, distances, strict=True)
            )
        live = [hit for hit in hits if hit.item_id not in self.tombstoned]
        return sorted(live, key=lambda hit: (hit.distance_bits, hit.item_id))


def _pdq_rows(session: Session, after_id: int = 0) -> tuple[list[str], list[int], list[int]]:
    rows = session.execute(
        select(KnownItem.pdq, KnownItem.id, KnownItem.list_id)
        .where(KnownItem.pdq.is_not(None), KnownItem.id > after_id)
        .order_by(KnownItem.id)
    ).all()
    return [str(r[0]) for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def _coverage(session: Session, up_to_id: int | None = None) -> dict[str, Any]:
    query = select(
        func.count(KnownItem.id), func.max(KnownItem.id), func.min(KnownItem.pdq),
        func.max(KnownItem.pdq),
    ).where(KnownItem.pdq.is_not(None))  # fmt: skip
    if up_to_id is not None:
        query = query.where(KnownItem.id <= up_to_id)
    count, max_id, low, high = session.execute(query).one()
    return {
        "version": STATE_VERSION,
        "count": count,
        "max_id": max_id or 0,
        "low": low,
        "high": high,
    }


def _tombstoned(session: Session) -> frozenset[int]:
    return frozenset(
        session.scalars(
            select(KnownItem.id).where(
                KnownItem.pdq.is_not(None), KnownItem.tombstoned_at.is_not(None)
            )
        )
    )


def build_known_index(session: Session) -> KnownPdqIndex:
    """A fresh index of every known item's PDQ hash."""
    hashes, item_ids, list_ids = _pdq_rows(session)
    main = MihIndex.build(hex_to_rows(hashes))
    return KnownPdqIndex(
        main,
        np.array(item_ids, dtype=np.int64),
        np.array(list_ids, dtype=np.int64),
        _coverage(session),
        tombstoned=_tombstoned(session),
        rebuilt=True,
    )


def save_known_index(index: KnownPdqIndex, folder: Path) -> None:
    """Write the index to ``folder`` atomically (a new folder renamed into place)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(folder.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    index.main.save(staging)
    np.save(staging / "item_ids.npy", index.item_ids)
    np.save(staging / "list_ids.npy", index.list_ids)
    (staging / "state.json").write_text(json.dumps(index.covered))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def _load_saved(folder: Path) -> KnownPdqIndex | None:
    try:
        covered = json.loads((folder / "state.json").read_text())
        if covered.get("version") != STATE_VERSION:
            return None
        return KnownPdqIndex(
            MihIndex.load(folder),
            np.load(folder / "item_ids.npy"),
            np.load(folder / "list_ids.npy"),
            covered,
        )
    except (OSError, ValueError, KeyError):
        return None


def open_known_index(session: Session, folder: Path) -> KnownPdqIndex:
    """The up-to-date index: loaded from ``folder``, topped up, or rebuilt and saved."""
    saved = _load_saved(folder)
    if saved is not None:
        covered_up_to = int(saved.covered["max_id"])
        if saved.covered == _coverage(session, covered_up_to):
            hashes, item_ids, list_ids = _pdq_rows(session, covered_up_to)
            limit = max(1000, min(DELTA_MAX_ROWS, int(DELTA_MAX_SHARE * len(saved.item_ids))))
            if len(item_ids) <= limit:
                saved.delta_rows = hex_to_rows(hashes)
                saved.delta_item_ids = np.array(item_ids, dtype=np.int64)
                saved.delta_list_ids = np.array(list_ids, dtype=np.int64)
                saved.tombstoned = _tombstoned(session)
                return saved
    index = build_known_index(session)
    save_known_index(index, folder)
    return index
