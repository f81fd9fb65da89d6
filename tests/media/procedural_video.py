"""Benign procedural test videos: moving colour gradients and shapes, written as MJPEG AVI.

No video encoder is needed: each frame is a JPEG from Pillow, wrapped in a
minimal RIFF AVI container that FFmpeg (and so vPDQ) decodes.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def procedural_frame(
    index: int, fps: int, size: tuple[int, int] = (320, 240), variant: int = 0
) -> Image.Image:
    """Frame ``index``: a drifting colour gradient with a few moving shapes.

    Another ``variant`` draws other gradients and shapes (a different clip).
    """
    width, height = size
    t = index / fps + 2.5 * variant
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / width, y / height
    if variant % 2:
        u, v = v, 1 - u
    red = 127 + 127 * np.sin(2 * np.pi * ((1.5 + variant) * u + 0.3 * t))
    green = 127 + 127 * np.sin(2 * np.pi * (1.2 * v - 0.2 * t) + 1.0 + variant)
    blue = 127 + 127 * np.cos(2 * np.pi * (u + (1 + variant) * v + 0.1 * t))
    image = Image.fromarray(np.dstack([red, green, blue]).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for shape in range(5):
        cx = (0.15 + 0.17 * shape + 0.08 * np.sin(t + shape)) * width
        cy = (0.5 + 0.3 * np.cos(0.7 * t + 2 * shape + variant)) * height
        r = (0.06 + 0.02 * shape) * min(width, height)
        box = (cx - r, cy - r, cx + r, cy + r)
        colour = ((60 * shape) % 256, 255 - 40 * shape, (90 + 70 * shape) % 256)
        if shape % 2:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    return image


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return fourcc + struct.pack("<I", len(payload)) + payload + pad


def _list(kind: bytes, payload: bytes) -> bytes:
    return _chunk(b"LIST", kind + payload)


def procedural_clip(
    seconds: float = 3.0, fps: int = 10, size: tuple[int, int] = (320, 240), variant: int = 0
) -> list[Image.Image]:
    """The frames of a ``seconds`` long clip."""
    return [procedural_frame(i, fps, size, variant) for i in range(round(seconds * fps))]


def write_mjpeg_avi(
    path: Path,
    clip: list[Image.Image],
    fps: int = 10,
    size: tuple[int, int] | None = None,
    jpeg_quality: int = 90,
) -> Path:
    """Write ``clip`` as Motion-JPEG in an AVI container, resized to ``size``; returns ``path``.

    A lower ``jpeg_quality`` and a smaller ``size`` make a re-encoded copy
    (lower bitrate, other resolution) of the same clip.
    """
    width, height = size or clip[0].size
    frames = []
    for image in clip:
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=jpeg_quality)
        frames.append(buffer.getvalue())
    largest = max(len(frame) for frame in frames)
    main_header = struct.pack(
        "<10I16x", 1_000_000 // fps, largest * fps, 0, 0x10, len(frames), 0, 1, largest,
        width, height,
    )  # fmt: skip
    stream_header = struct.pack(
        "<4s4sIHHIIIIIIIi4h", b"vids", b"MJPG", 0, 0, 0, 0, 1, fps, 0, len(frames), largest,
        0xFFFFFFFF, 0, 0, 0, width, height,
    )  # fmt: skip
    stream_format = struct.pack(
        "<IiiHH4sIiiII", 40, width, height, 1, 24, b"MJPG", width * height * 3, 0, 0, 0, 0
    )
    header = _list(
        b"hdrl",
        _chunk(b"avih", main_header)
        + _list(b"strl", _chunk(b"strh", stream_header) + _chunk(b"strf", stream_format)),
    )
    movi = b""
    index_entries = b""
    for frame in frames:
        index_entries += struct.pack("<4sIII", b"00dc", 0x10, 4 + len(movi), len(frame))
        movi += _chunk(b"00dc", frame)
    body = b"AVI " + header + _list(b"movi", movi) + _chunk(b"idx1", index_entries)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
