"""Benchmark: how PDQ distances move under common edits, and false matches between images.

Benign images: scikit-image samples (whole, plus their four quadrants as
further distinct images) and the shared PDQ reference images. For each
transform: the distance distribution between the original and the edited
copy, and the recall at the 31-bit threshold (single hash, and for flips and
rotations also the minimum over the 8 dihedral hashes). False matches: every
pair of distinct images.

    .venv/bin/python bench/robustness.py
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps
from skimage import data

from bench._common import machine_description, markdown_table, write_result
from veille.media.mih import brute_force, hex_to_rows
from veille.media.pdq import pdq_dihedral_of_rgb, pdq_of_image, rgb_array

THRESHOLD = 31
SAMPLES = (
    "astronaut", "brick", "camera", "chelsea", "clock", "coffee", "coins", "colorwheel",
    "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo", "moon",
    "page", "retina", "rocket", "text",
)  # fmt: skip
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "pdq-reference"


def load_images() -> list[tuple[str, Image.Image]]:
    """Distinct benign images: samples, their quadrants, the reference originals."""
    images: list[tuple[str, Image.Image]] = []
    for name in SAMPLES:
        try:
            pixels = getattr(data, name)()
        except Exception:  # a sample that needs a download: skip it
            continue
        image = Image.fromarray(np.asarray(pixels)).convert("RGB")
        images.append((name, image))
        width, height = image.size
        for index, (left, top) in enumerate(
            ((0, 0), (width // 2, 0), (0, height // 2), (width // 2, height // 2))
        ):
            images.append(
                (f"{name}-q{index}", image.crop((left, top, left + width // 2, top + height // 2)))
            )
    if REFERENCE.is_dir():
        for path in sorted(REFERENCE.glob("*")):
            if path.name.startswith(("bridge-mods-aaa", "misc-", "resources-")):
                images.append((path.stem, Image.open(path).convert("RGB")))
    return images


def jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    return apply


def crop(share: float) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        w, h = image.size
        dx, dy = int(w * share), int(h * share)
        return image.crop((dx, dy, w - dx, h - dy))

    return apply


def watermark(image: Image.Image) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    for row in range(3):
        draw.text((w // 10, h // 4 + row * h // 5), "SAMPLE  VEILLE  2026", fill=(255, 255, 255))
    return out


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "JPEG q50": jpeg(50),
    "JPEG q20": jpeg(20),
    "resize 50 %": lambda im: im.resize((max(1, im.width // 2), max(1, im.height // 2))),
    "grayscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "brightness +30 %": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
    "watermark text": watermark,
    "crop 2 % per side": crop(0.02),
    "crop 5 % per side": crop(0.05),
    "border 5 %": lambda im: ImageOps.expand(im, border=max(1, im.width // 20), fill=(0, 0, 0)),
    "rotate 5°": lambda im: im.rotate(5, resample=Image.Resampling.BILINEAR, expand=False),
    "flip horizontal": ImageOps.mirror,
    "rotate 90°": lambda im: im.transpose(Image.Transpose.ROTATE_90),
}
DIHEDRAL = {"flip horizontal", "rotate 90°", "rotate 5°", "crop 5 % per side"}


def distance(left: str, right: str) -> int:
    return (int(left, 16) ^ int(right, 16)).bit_count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    images = load_images()
    originals = {name: pdq_of_image(image) for name, image in images}
    dihedral = {name: pdq_dihedral_of_rgb(rgb_array(image))[0] for name, image in images}
    usable = [name for name, _ in images if originals[name].quality >= 50]
    rows: list[list[object]] = []
    for label, transform in TRANSFORMS.items():
        distances, dihedral_distances = [], []
        for name, image in images:
            if name not in usable:
                continue
            edited = pdq_of_image(transform(image)).hash_hex
            distances.append(distance(originals[name].hash_hex, edited))
            dihedral_distances.append(min(distance(h, edited) for h in dihedral[name].values()))
        values = np.array(distances)
        recall_dihedral = (
            f"{np.mean(np.array(dihedral_distances) <= THRESHOLD):.2f}" if label in DIHEDRAL else ""
        )
        rows.append(
            [label, len(values), int(values.min()), int(np.median(values)), int(np.percentile(values, 90)),
             int(values.max()), f"{np.mean(values <= THRESHOLD):.2f}", recall_dihedral]
        )  # fmt: skip
        print(rows[-1], flush=True)
    hashes = [originals[name].hash_hex for name in usable]
    table = hex_to_rows(hashes)
    pairs = len(hashes) * (len(hashes) - 1) // 2
    false_matches = 0
    closest = 256
    for index in range(len(hashes)):
        positions, found = brute_force(table[index], table, 256)
        later = positions > index
        if later.any():
            closest = min(closest, int(found[later].min()))
            false_matches += int((found[later] <= THRESHOLD).sum())
    pair_note = (
        f"False matches between distinct images: {false_matches} of {pairs:,} pairs at ≤ {THRESHOLD} "
        f"bits (closest pair {closest} bits). Quadrants of one sample count as distinct images."
    )
    print(pair_note)
    header = [
        "transform", "images", "min", "median", "p90", "max", "recall ≤31 (one hash)",
        "recall ≤31 (8 dihedral hashes)",
    ]  # fmt: skip
    low = len(images) - len(usable)
    body = "\n\n".join(
        [
            f"{len(usable)} benign images with PDQ quality ≥ 50 ({low} below the floor left out): "
            f"{len(SAMPLES)} scikit-image samples, their quadrants, and the reference images. "
            "Distances in bits between the original and the edited copy.",
            markdown_table(header, rows),
            pair_note,
            "The flip and 90° rotation misses with 8 dihedral hashes are high-frequency "
            "textures (brick, grass, gravel and their quadrants): their mirrored pixels do not "
            "reproduce the mirrored hash. Crops, borders and small rotations defeat PDQ, as "
            "expected of a global hash.",
            machine_description(("pillow", "numpy", "pdqhash", "scikit-image")),
        ]
    )
    if not args.no_write:
        write_result("robustness", "PDQ robustness to common edits", body)


if __name__ == "__main__":
    main()
