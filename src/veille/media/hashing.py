"""Hashing one file: cryptographic hashes always, PDQ for images, vPDQ for videos.

``hash_file`` never raises for a bad file: a decompression bomb, a truncated
or an undecodable image comes back as a ``FileHashes`` with ``error`` set (and
the byte hashes still filled in), so that one bad file never stops a run. The
intake background worker calls it for every uploaded file.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageFile, UnidentifiedImageError

from veille.media.pdq import pdq_dihedral_of_rgb, pdq_of_rgb, rgb_array

#: Images above this many pixels are refused before decoding (decompression bombs).
DEFAULT_MAX_PIXELS = 178_956_970
#: PDQ hashes below this quality are kept but not used for matching (Meta's advice).
DEFAULT_QUALITY_FLOOR = 50
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
_VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".wmv", ".flv", ".mpg"}
_CHUNK_BYTES = 1 << 20
_MAX_IMAGE_BYTES = 512 << 20


@dataclass
class FileHashes:
    """Everything Veille keeps about one file (never the file itself)."""

    path: str
    size_bytes: int | None = None
    media_type: str | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    width: int | None = None
    height: int | None = None
    pdq_dihedral: dict[str, str] | None = None
    vpdq_frames: list[dict[str, Any]] | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def pdq_usable(self) -> bool:
        """Whether the PDQ hash is there (quality is checked by the matcher)."""
        return self.pdq is not None

    def as_record(self) -> dict[str, Any]:
        """A plain dictionary (JSON-ready)."""
        return asdict(self)


@dataclass(frozen=True)
class HashOptions:
    """What to compute, and the limits that protect the hasher."""

    dihedral: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    quality_floor: int = DEFAULT_QUALITY_FLOOR
    video: bool = True


def _byte_hashes(path: Path, keep_bytes: bool) -> tuple[dict[str, str], int, bytes | None]:
    digests = {name: hashlib.new(name) for name in ("md5", "sha1", "sha256")}
    kept = bytearray() if keep_bytes else None
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            size += len(chunk)
            for digest in digests.values():
                digest.update(chunk)
            if kept is not None:
                if size > _MAX_IMAGE_BYTES:
                    kept = None
                else:
                    kept.extend(chunk)
    return (
        {name: d.hexdigest() for name, d in digests.items()},
        size,
        bytes(kept) if kept is not None else None,
    )


def _hash_image(data: bytes, result: FileHashes, options: HashOptions) -> None:
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS; Veille checks the size itself.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # A truncated image is an error, whatever another library set in this process
            # (WeasyPrint turns Pillow's LOAD_TRUNCATED_IMAGES on when it is imported).
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            result.width, result.height = width, height
            if image.format:
                result.media_type = Image.MIME.get(image.format, result.media_type)
            if width * height > options.max_pixels:
                result.error = (
                    f"decompression bomb: {width}×{height} = {width * height} pixels "
                    f"exceeds the limit of {options.max_pixels}"
                )
                return
            image.load()
    except Image.DecompressionBombError as error:
        result.error = f"decompression bomb: {error}"
        return
    except UnidentifiedImageError:
        result.error = "unsupported or corrupt image: no decoder recognises the file"
        return
    except (OSError, ValueError, SyntaxError) as error:
        reason = str(error)
        kind = "truncated image" if "truncated" in reason else "undecodable image"
        result.error = f"{kind}: {reason}"
        return
    rgb = rgb_array(image)
    if options.dihedral:
        hashes, quality = pdq_dihedral_of_rgb(rgb)
        result.pdq_dihedral = hashes
        result.pdq, result.pdq_quality = hashes["original"], quality
    else:
        pdq = pdq_of_rgb(rgb)
        result.pdq, result.pdq_quality = pdq.hash_hex, pdq.quality
    if result.pdq_quality is not None and result.pdq_quality < options.quality_floor:
        result.notes.append(
            f"PDQ quality {result.pdq_quality} is below the floor of {options.quality_floor}: "
            "the hash is kept but not used for matching"
        )


def _looks_like_image(path: Path, head: bytes | None) -> bool:
    if path.suffix.lower() in _IMAGE_SUFFIXES:
        return True
    if head is None:
        return False
    try:
        Image.open(io.BytesIO(head[:65536] if len(head) > 65536 else head)).close()
    except Exception:
        return False
    return True


def hash_file(path: str | Path, options: HashOptions | None = None) -> FileHashes:
    """Hash one file; problems are reported in ``error``, never raised."""
    options = options or HashOptions()
    path = Path(path)
    result = FileHashes(path=str(path))
    guessed, _ = mimetypes.guess_type(path.name)
    result.media_type = guessed or "application/octet-stream"
    try:
        digests, size, data = _byte_hashes(path, keep_bytes=True)
    except OSError as error:
        result.error = f"unreadable file: {error.strerror or error}"
        return result
    result.md5, result.sha1, result.sha256 = digests["md5"], digests["sha1"], digests["sha256"]
    result.size_bytes = size
    if size == 0:
        result.error = "empty file"
        return result
    if path.suffix.lower() in _VIDEO_SUFFIXES or result.media_type.startswith("video/"):
        if options.video:
            from veille.media.video import hash_video_into

            hash_video_into(path, result, options.quality_floor)
        return result
    if data is not None and _looks_like_image(path, data):
        _hash_image(data, result, options)
    return result


def hash_file_job(job: tuple[str, HashOptions]) -> FileHashes:
    """``hash_file`` with one picklable argument, for process pools."""
    return hash_file(job[0], job[1])
