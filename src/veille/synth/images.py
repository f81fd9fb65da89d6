"""Procedural benign images and their transformed versions, hashed for real.

A small share of the scenario's media exists as files so that the hashing
path runs on real bytes: each base image is drawn from gradients, shapes,
noise and text; versions apply what re-sharing does to a picture (re-encode,
resize, crop, border, watermark, flip). Nothing here depicts a person.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFont, ImageOps

SIDE = 384
TRANSFORMS = ("reencode", "resize", "watermark", "border", "crop", "flip")


@dataclass(frozen=True)
class ImageFile:
    """One image written to disk, with the hashes of its bytes."""

    path: str
    size_bytes: int
    md5: str
    sha1: str
    sha256: str
    pdq: str
    pdq_quality: int

    def media_fields(self) -> dict[str, object]:
        """The fields of a report's media item (``MediaIn``)."""
        return {
            "file_name": self.path,
            "size_bytes": self.size_bytes,
            "media_type": "image/jpeg",
            "md5": self.md5,
            "sha1": self.sha1,
            "sha256": self.sha256,
            "pdq": self.pdq,
            "pdq_quality": self.pdq_quality,
        }


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def draw_base_image(rng: np.random.Generator, label: str) -> Image.Image:
    """A procedural picture: a gradient, random shapes, grain and a word."""
    # The gradient and grain are drawn small and enlarged: cheap, and smooth like a photo.
    small = SIDE // 4
    y, x = np.mgrid[0:small, 0:small] / small
    angle = rng.uniform(0, np.pi)
    ramp = np.cos(angle) * x + np.sin(angle) * y
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-9)
    first, second = rng.integers(0, 256, (2, 3))
    pixels = first[None, None, :] * (1 - ramp[..., None]) + second[None, None, :] * ramp[..., None]
    pixels += rng.normal(0, 10, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").resize(
        (SIDE, SIDE), Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(6, 14))):
        box = sorted(rng.integers(0, SIDE, 2).tolist()), sorted(rng.integers(0, SIDE, 2).tolist())
        left, right = box[0]
        top, bottom = box[1]
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = int(rng.integers(3))
        if shape == 0:
            draw.ellipse((left, top, right + 4, bottom + 4), fill=colour)
        elif shape == 1:
            draw.rectangle((left, top, right + 4, bottom + 4), fill=colour)
        else:
            points = [tuple(int(v) for v in rng.integers(0, SIDE, 2)) for _ in range(3)]
            draw.polygon(points, fill=colour)
    draw.text(
        (int(rng.integers(10, SIDE // 2)), int(rng.integers(10, SIDE - 60))),
        label,
        fill=tuple(int(v) for v in rng.integers(0, 256, 3)),
        font=_font(int(rng.integers(28, 48))),
    )
    return image


def transform_image(image: Image.Image, transform: str, rng: np.random.Generator) -> Image.Image:
    """A version of ``image``; ``reencode`` is applied when it is saved (low quality)."""
    if transform == "resize":
        factor = rng.uniform(0.45, 0.8)
        return image.resize((int(SIDE * factor), int(SIDE * factor)), Image.Resampling.BILINEAR)
    if transform == "crop":
        margin = int(SIDE * rng.uniform(0.05, 0.12))
        return image.crop((margin, margin, SIDE - margin, SIDE - margin))
    if transform == "border":
        width = int(SIDE * rng.uniform(0.04, 0.1))
        return ImageOps.expand(image, border=width, fill=(int(rng.integers(256)),) * 3)
    if transform == "watermark":
        copy = image.copy()
        ImageDraw.Draw(copy).text(
            (int(rng.integers(5, 60)), int(rng.integers(SIDE - 60, SIDE - 30))),
            "shared via loop",
            fill=(255, 255, 255),
            font=_font(22),
        )
        return copy
    if transform == "flip":
        return ImageOps.mirror(image)
    return image


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """JPEG bytes of ``image`` (deterministic for one Pillow build)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=False)
    return buffer.getvalue()


def pdq_of_bytes(data: bytes) -> tuple[str, int]:
    """PDQ hash (64 hex characters, reference bit order) and quality of image bytes."""
    with Image.open(io.BytesIO(data)) as opened:
        rgb = np.asarray(opened.convert("RGB"))
    vector, quality = pdqhash.compute(rgb)
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes().hex(), int(quality)


def write_image(folder: Path, data: bytes) -> ImageFile:
    """Write ``data`` into ``folder`` under a name that tells nothing of what it is, and hash it."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"img-{hashlib.sha256(data).hexdigest()[:20]}.jpg"
    (folder / name).write_bytes(data)
    pdq, quality = pdq_of_bytes(data)
    return ImageFile(
        path=f"{folder.name}/{name}",
        size_bytes=len(data),
        md5=hashlib.md5(data).hexdigest(),
        sha1=hashlib.sha1(data).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        pdq=pdq,
        pdq_quality=quality,
    )


def hamming_hex(first: str, second: str) -> int:
    """Bits that differ between two hex hashes of equal length."""
    return (int(first, 16) ^ int(second, 16)).bit_count()


@dataclass(frozen=True)
class ImageTask:
    """One image to make: an original (``known`` or ``new``) or a ``version`` of known ``index``."""

    kind: str
    number: int
    index: int = 0
    transform: str = ""


def _image_rng(seed: int, kind: str, number: int) -> np.random.Generator:
    # One generator per image: the images come out the same in any order, in any process.
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(kind.encode()), number]))


def make_image(seed: int, folder: Path, task: ImageTask) -> ImageFile:
    """Draw, encode, write and hash the image of ``task``."""
    if task.kind == "version":
        original = draw_base_image(_image_rng(seed, "known", task.index), f"K{task.index}")
        changed = transform_image(
            original, task.transform, _image_rng(seed, "version", task.number)
        )
        data = encode_jpeg(changed, 45 if task.transform == "reencode" else 85)
    else:
        prefix = "K" if task.kind == "known" else "N"
        picture = draw_base_image(
            _image_rng(seed, task.kind, task.number), f"{prefix}{task.number}"
        )
        data = encode_jpeg(picture, 90)
    return write_image(folder, data)


def _make_image_star(arguments: tuple[int, Path, ImageTask]) -> ImageFile:
    return make_image(*arguments)


def make_images(seed: int, folder: Path, tasks: list[ImageTask]) -> list[ImageFile]:
    """Every task's image, in task order, on two processes where ``fork`` exists."""
    folder.mkdir(parents=True, exist_ok=True)
    arguments = [(seed, folder, task) for task in tasks]
    if len(tasks) >= 40 and "fork" in multiprocessing.get_all_start_methods():
        with multiprocessing.get_context("fork").Pool(2) as pool:
            return pool.map(_make_image_star, arguments, chunksize=10)
    return [make_image(*item) for item in arguments]
