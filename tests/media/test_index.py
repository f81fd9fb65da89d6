"""The persisted PDQ index: rebuilt from the database when its files are missing or outdated."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.media.conftest import flip_hex
from veille.media.index import open_known_index
from veille.media.listformats import ListEntry
from veille.media.lists import import_list
from veille.store.db import Database

P = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_index_saved_in_an_older_format_is_rebuilt(database: Database, tmp_path: Path) -> None:
    folder = tmp_path / "pdq"
    with database.session() as session:
        import_list(session, "bank", [ListEntry(pdq=P, category="1")], "csv")
        assert open_known_index(session, folder).rebuilt
        assert not open_known_index(session, folder).rebuilt  # loaded as saved
        # Replace the files with the layout of format 1 (per-chunk tables, no format file).
        for name in ("format", "plan.npy", "offsets.npy", "entries.npy"):
            (folder / name).unlink()
        np.save(folder / "offsets_0.npy", np.zeros(3, dtype=np.uint32))
        index = open_known_index(session, folder)
        assert index.rebuilt
        assert [hit.distance_bits for hit in index.query(flip_hex(P, 12))] == [12]
        assert (folder / "format").exists() and not (folder / "offsets_0.npy").exists()


def test_index_with_missing_files_is_rebuilt(database: Database, tmp_path: Path) -> None:
    folder = tmp_path / "pdq"
    with database.session() as session:
        import_list(session, "bank", [ListEntry(pdq=P, category="1")], "csv")
        open_known_index(session, folder)
        (folder / "entries.npy").unlink()
        index = open_known_index(session, folder)
        assert index.rebuilt and len(index) == 1


def test_index_saved_before_families_is_rebuilt(database: Database, tmp_path: Path) -> None:
    folder = tmp_path / "pdq"
    with database.session() as session:
        import_list(session, "bank", [ListEntry(pdq=P, category="1")], "csv")
        open_known_index(session, folder)
        # Format 2 had the same tables but no family files.
        for name in ("family_representatives.npy", "family_positions.npy", "family_offsets.npy"):
            (folder / name).unlink()
        (folder / "format").write_text("2\n")
        index = open_known_index(session, folder)
        assert index.rebuilt
        assert [hit.distance_bits for hit in index.query(flip_hex(P, 20))] == [20]
        assert (folder / "format").read_text().strip() == "3"
