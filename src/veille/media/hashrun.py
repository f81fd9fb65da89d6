"""Hashing many files: walk folders, hash in parallel, write JSON Lines or CSV.

The CLI's ``veille hash`` is a thin layer over ``hash_paths`` and
``write_hashes``; results come back in input order whatever the worker count.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TextIO

from veille.media.hashing import FileHashes, HashOptions, hash_file, hash_file_job

CSV_COLUMNS = (
    "path",
    "size_bytes",
    "media_type",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "pdq_quality",
    "width",
    "height",
    "error",
)


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every file named, and every file under every folder named (sorted, recursive)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield Path(root) / name
        else:
            yield path


def hash_paths(
    files: Sequence[Path],
    options: HashOptions | None = None,
    workers: int | None = None,
    on_done: Callable[[FileHashes], None] | None = None,
) -> Iterator[FileHashes]:
    """Hash ``files`` with ``workers`` processes (default: every core), in input order."""
    options = options or HashOptions()
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(files) < 4:
        for path in files:
            result = hash_file(path, options)
            if on_done:
                on_done(result)
            yield result
        return
    jobs = [(str(path), options) for path in files]
    chunk = max(1, min(32, len(jobs) // (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(hash_file_job, jobs, chunksize=chunk):
            if on_done:
                on_done(result)
            yield result


def write_hashes(results: Iterable[FileHashes], stream: TextIO, output_format: str) -> int:
    """Write results as ``jsonl`` or ``csv``; returns how many had an error."""
    errors = 0
    if output_format == "csv":
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for result in results:
            errors += result.error is not None
            writer.writerow(result.as_record())
        return errors
    if output_format != "jsonl":
        raise ValueError(f"--format: {output_format!r} is not supported (expected jsonl or csv)")
    for result in results:
        errors += result.error is not None
        record = {
            key: value for key, value in result.as_record().items() if value not in (None, [])
        }
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    return errors
