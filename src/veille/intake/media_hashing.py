"""What the media worker learns from a spooled file: its PDQ hash and media type.

Hashing runs in the worker's thread (:func:`hash_in_thread`) or in a
low-priority child process (:class:`~veille.intake.hashing_process.LowPriorityHasher`);
either way one bad file is reported in its result, never raised, so that it
cannot stop the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from veille.intake.uploads import remove_quietly

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PerceptualHash:
    """What the worker learns from a file."""

    pdq: str | None
    pdq_quality: int | None
    media_type: str | None
    error: str | None


def hash_media_file(path: Path) -> PerceptualHash:
    """PDQ (and the media type) of a spooled file, computed by ``veille.media``."""
    from veille.media import hash_file

    result = hash_file(path)
    media_type = result.media_type if result.media_type != "application/octet-stream" else None
    return PerceptualHash(result.pdq, result.pdq_quality, media_type, result.error)


def warm_up_hashing(folder: Path) -> None:
    """Hash one tiny image so that the hasher's compiled code is loaded before serving.

    The first PDQ hash loads compiled (numba) code and holds the interpreter
    for a few seconds; doing it at start-up keeps that pause out of request
    latencies.
    """
    import io

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "warm-up.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    try:
        hash_media_file(path)
    finally:
        remove_quietly(path)


def hash_job(path: str) -> PerceptualHash:
    """One file, with any failure reported in ``error`` (a bad file must not stop the queue)."""
    try:
        return hash_media_file(Path(path))
    except Exception as error:
        log.exception("hashing %s failed", path)
        return PerceptualHash(None, None, None, f"{type(error).__name__}: {error}")


Hasher = Callable[[Sequence[str]], list[PerceptualHash]]


def hash_in_thread(paths: Sequence[str]) -> list[PerceptualHash]:
    """Hash files in the calling thread (the CLI, tests, ``VEILLE_WORKER_HASH_PROCESS=false``)."""
    return [hash_job(path) for path in paths]
