"""vPDQ for videos, through the optional ``vpdq`` package (the ``video`` extra).

``vpdq`` compiles against FFmpeg's development libraries. Where it is not
installed, videos are still hashed with MD5/SHA-1/SHA-256 and the result says
how to enable vPDQ.
"""

from __future__ import annotations

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
