"""vPDQ for videos, through the optional ``vpdq`` package (the ``video`` extra).

``vpdq`` compiles against FFmpeg's development libraries. Where it is not
installed, videos are still hashed with MD5/SHA-1/SHA-256 and the result says
how to enable vPDQ.

Two videos are compared as vPDQ does (and ThreatExchange's ``VPDQSignal``):
frames with the same hash count once, frames below the quality floor are left
out, and a frame matches when some frame of the other video is within the
distance threshold; the query video matches when at least 80 % of its frames
match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from veille.media.hashing import FileHashes

ENABLE_VIDEO_HINT = (
    "vPDQ not computed: install the video extra (pip install 'veille[video]', which needs "
    "pkg-config and FFmpeg's -dev libraries: apt-get install pkg-config libavcodec-dev "
    "libavformat-dev libavfilter-dev libavdevice-dev libavutil-dev libswscale-dev "
    "libswresample-dev)"
)


#: vPDQ's published defaults: PDQ distance and quality per frame, share of frames.
VPDQ_DISTANCE_THRESHOLD_BITS = 31
VPDQ_QUALITY_FLOOR = 50
VPDQ_QUERY_MATCH_PERCENT = 80.0
VPDQ_COMPARED_MATCH_PERCENT = 0.0


@dataclass(frozen=True)
class VpdqComparison:
    """How much of each video's frames were found in the other one."""

    query_match_percent: float
    compared_match_percent: float

    def is_match(
        self,
        query_percent: float = VPDQ_QUERY_MATCH_PERCENT,
        compared_percent: float = VPDQ_COMPARED_MATCH_PERCENT,
    ) -> bool:
        """Whether both shares reach their thresholds (vPDQ's defaults: 80 % and 0 %)."""
        return (
            self.query_match_percent >= query_percent
            and self.compared_match_percent >= compared_percent
        )


def _usable_hashes(frames: Iterable[Mapping[str, Any]], quality_floor: int) -> list[int]:
    unique = {str(frame["pdq"]) for frame in frames if int(frame["quality"]) >= quality_floor}
    return [int(pdq, 16) for pdq in sorted(unique)]


def _share_found(hashes: list[int], others: list[int], distance_bits: int) -> float:
    if not hashes:
        return 0.0
    found = sum(any((h ^ o).bit_count() <= distance_bits for o in others) for h in hashes)
    return 100.0 * found / len(hashes)


def compare_vpdq(
    query_frames: Iterable[Mapping[str, Any]],
    compared_frames: Iterable[Mapping[str, Any]],
    distance_bits: int = VPDQ_DISTANCE_THRESHOLD_BITS,
    quality_floor: int = VPDQ_QUALITY_FLOOR,
) -> VpdqComparison:
    """Compare two videos' vPDQ frames (``{"pdq", "quality", ...}`` as ``vpdq_frames`` gives)."""
    query = _usable_hashes(query_frames, quality_floor)
    compared = _usable_hashes(compared_frames, quality_floor)
    return VpdqComparison(
        _share_found(query, compared, distance_bits), _share_found(compared, query, distance_bits)
    )


def vpdq_available() -> bool:
    """Whether the ``vpdq`` package can be imported."""
    try:
        import vpdq  # noqa: F401
    except ImportError:
        return False
    return True


def vpdq_frames(path: Path, seconds_per_hash: float = 1.0) -> list[dict[str, Any]]:
    """One PDQ hash per ``seconds_per_hash`` of video: frame, timestamp, hash, quality."""
    import vpdq

    features = vpdq.computeHash(str(path), seconds_per_hash=seconds_per_hash)
    return [
        {
            "frame": int(feature.frame_number),
            "timestamp_s": round(float(feature.timestamp), 3),
            "pdq": str(feature.hex),
            "quality": int(feature.quality),
        }
        for feature in features
    ]


def hash_video_into(path: Path, result: FileHashes, quality_floor: int) -> None:
    """Add vPDQ frames to ``result`` (or a note saying how to enable them)."""
    if not vpdq_available():
        result.notes.append(ENABLE_VIDEO_HINT)
        return
    try:
        frames = vpdq_frames(path)
    except Exception as error:  # vpdq raises plain exceptions on bad input
        result.error = f"undecodable video: {error}"
        return
    if not frames:
        result.error = "undecodable video: no frame could be decoded"
        return
    result.vpdq_frames = frames
    usable = sum(frame["quality"] >= quality_floor for frame in frames)
    result.notes.append(f"vPDQ: {len(frames)} frames, {usable} at quality ≥ {quality_floor}")
