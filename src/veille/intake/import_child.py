"""The second process of a parallel import: it reads, parses and validates, the parent writes.

Files of :data:`PARALLEL_MIN_BYTES` or more are turned into events
(:func:`veille.intake.import_lines.events`) in a child process
(``python -m veille.intake.parse_child``) while the importer writes the
previous batches, so that parsing and writing overlap on two cores.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from veille.intake.import_lines import Event, Owners, ProgressCallback, events, read_records

# Files at least this large are parsed and validated in a second process.
PARALLEL_MIN_BYTES = 2 * 1024 * 1024
_EVENTS_PER_MESSAGE = 500
_FRAMES_AHEAD = 16


class ParseProcessError(RuntimeError):
    """The second process of a parallel import failed."""


def use_child(path: Path, parallel: bool | None) -> bool:
    """Whether to parse ``path`` in a second process (``parallel`` forces the choice)."""
    if parallel is not None:
        return parallel
    if (os.cpu_count() or 1) < 2:
        return False
    try:
        return path.stat().st_size >= PARALLEL_MIN_BYTES
    except OSError:
        return False


def _send(stdout: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stdout.write(len(data).to_bytes(8, "little"))
    stdout.write(data)


def parse_in_child(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Body of the second process of a parallel import (``python -m veille.intake.parse_child``).

    Reads ``(path, file_format, owners)`` pickled on ``stdin`` and writes
    length-prefixed pickled messages on ``stdout``: ``(events, bytes_read)``
    in file order, then ``None``; a failure is sent as ``("error", text)``.
    """
    path, file_format, owners = pickle.load(stdin)
    read = 0

    def count(size: int) -> None:
        nonlocal read
        read += size

    try:
        batch: list[Event] = []
        for event in events(read_records(Path(path), file_format, count), owners):
            batch.append(event)
            if len(batch) >= _EVENTS_PER_MESSAGE:
                _send(stdout, (batch, read))
                batch, read = [], 0
        _send(stdout, (batch, read))
        _send(stdout, None)
    except Exception as error:  # reported to the parent, which raises
        _send(stdout, ("error", f"{type(error).__name__}: {error}"))
    stdout.flush()


def _read_frames(stream: IO[bytes], frames: queue.Queue[bytes | None]) -> None:
    """Move the child's messages off its pipe as soon as they are written.

    Without this the child blocks on a full pipe while the writer is busy
    with the database, and the two processes take turns instead of
    overlapping. Reading releases the GIL; unpickling stays with the caller.
    """
    try:
        while True:
            header = stream.read(8)
            if len(header) < 8:
                break
            data = stream.read(int.from_bytes(header, "little"))
            frames.put(data)
    finally:
        frames.put(None)


def events_from_child(
    path: Path, file_format: str, owners: Owners, on_progress: ProgressCallback | None
) -> Iterator[Event]:
    """The events of ``path``, produced by a second process; raises :class:`ParseProcessError`."""
    # A plain subprocess rather than multiprocessing: no fork of a process that
    # holds database connections and threads, and no re-import of the caller's
    # main module.
    package_root = str(Path(__file__).resolve().parents[2])
    search_path = os.environ.get("PYTHONPATH")
    child = subprocess.Popen(
        [sys.executable, "-m", "veille.intake.parse_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={
            **os.environ,
            "PYTHONPATH": package_root + (os.pathsep + search_path if search_path else ""),
        },
    )
    assert child.stdin is not None and child.stdout is not None
    frames: queue.Queue[bytes | None] = queue.Queue(maxsize=_FRAMES_AHEAD)
    reader = threading.Thread(
        target=_read_frames, args=(child.stdout, frames), name="veille-import-read", daemon=True
    )
    try:
        try:
            pickle.dump((str(path), file_format, owners), child.stdin)
            child.stdin.close()
        except BrokenPipeError:
            raise ParseProcessError(
                f"the parsing process did not start (exit code {child.wait()})"
            ) from None
        reader.start()
        while True:
            frame = frames.get()
            if frame is None:
                raise ParseProcessError(
                    f"the parsing process stopped unexpectedly (exit code {child.wait()})"
                )
            message = pickle.loads(frame)
            if message is None:
                break
            if message[0] == "error":
                raise ParseProcessError(f"parsing {path.name} failed: {message[1]}")
            batch, read = message
            if on_progress is not None and read:
                on_progress(read)
            yield from batch
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        if reader.ident is not None and reader.is_alive():
            # Unblock a reader waiting for room in the queue, then let it see EOF.
            while reader.is_alive():
                with contextlib.suppress(queue.Empty):
                    frames.get(timeout=0.1)
        child.stdout.close()
