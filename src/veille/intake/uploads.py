"""Receiving a file as a stream: spool it to disk and hash it on the way in.

MD5, SHA-1 and SHA-256 are computed chunk by chunk while the bytes are
written, so the upload answer can carry the MD5 at once (as the CyberTipline
does) and the file is never held whole in memory. The size limit is checked
on every chunk: an oversize upload is cut off and its partial file removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path


class UploadTooLarge(ValueError):
    """The file is larger than the configured limit."""


@dataclass(frozen=True)
class SpooledFile:
    """A received file on disk with its cryptographic hashes."""

    path: Path
    file_name: str | None
    size_bytes: int
    md5: str
    sha1: str
    sha256: str
    media_type: str | None


class SpoolWriter:
    """Write one incoming file to the spool folder, hashing as it goes."""

    def __init__(self, folder: Path, max_bytes: int, file_name: str | None = None) -> None:
        self.path = folder / f"{uuid.uuid4().hex}.part"
        self.max_bytes = max_bytes
        self.file_name = file_name
        self.size_bytes = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        try:
            self._stream = open(self.path, "wb")  # noqa: SIM115 - closed by finish() or discard()
        except FileNotFoundError:
            # The spool folder is made on first use (or again, if someone removed it).
            folder.mkdir(parents=True, exist_ok=True)
            self._stream = open(self.path, "wb")  # noqa: SIM115
        self._head = b""

    def write(self, chunk: bytes) -> None:
        """Add a chunk; raises :class:`UploadTooLarge` (and removes the file) past the limit."""
        self.size_bytes += len(chunk)
        if self.size_bytes > self.max_bytes:
            self.discard()
            raise UploadTooLarge(f"file: larger than the limit of {self.max_bytes} bytes")
        if len(self._head) < 16:
            self._head += chunk[: 16 - len(self._head)]
        self._md5.update(chunk)
        self._sha1.update(chunk)
        self._sha256.update(chunk)
        self._stream.write(chunk)

    def finish(self) -> SpooledFile:
        """Close the file and return what was received.

        The spooled file takes the extension of the sender's file name (or of
        its sniffed type), which the media hasher uses to tell videos apart.
        """
        self._stream.close()
        media_type = sniff_media_type(self._head)
        final = self.path.with_suffix(_suffix(self.file_name, media_type))
        os.replace(self.path, final)
        self.path = final
        return SpooledFile(
            path=self.path,
            file_name=self.file_name,
            size_bytes=self.size_bytes,
            md5=self._md5.hexdigest(),
            sha1=self._sha1.hexdigest(),
            sha256=self._sha256.hexdigest(),
            media_type=media_type,
        )

    def discard(self) -> None:
        """Close and delete the partial file."""
        if not self._stream.closed:
            self._stream.close()
        remove_quietly(self.path)


_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"\x1aE\xdf\xa3", "video/webm"),
)


_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")
_TYPE_SUFFIX = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/webp": ".webp",
    "video/webm": ".webm",
    "video/mp4": ".mp4",
}


def _suffix(file_name: str | None, media_type: str | None) -> str:
    if file_name:
        suffix = Path(file_name.replace("\\", "/")).suffix.lower()
        if _SAFE_SUFFIX.match(suffix):
            return suffix
    return _TYPE_SUFFIX.get(media_type or "", ".bin")


def sniff_media_type(head: bytes) -> str | None:
    """The media type told by a file's first bytes, when it is a common one."""
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return None


def remove_quietly(path: str | Path | None) -> None:
    """Delete a spooled file if it is still there."""
    if path is None:
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
