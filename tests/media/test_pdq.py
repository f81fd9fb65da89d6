"""PDQ hashing: bit-exact against the reference, the peer, and every image mode."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image
from skimage import data
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

from veille.media.pdq import luma_of, pdq_dihedral_of_rgb, pdq_of_image, pdq_of_rgb, rgb_array
from veille.media.signals import PdqSignal

SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "moon", "coins", "page")


def _pdqhash_hex(rgb: np.ndarray) -> str:
    vector, _ = pdqhash.compute(rgb)
    return f"{int(''.join(str(int(bit)) for bit in vector), 2):064x}"


def _sample(name: str) -> np.ndarray:
    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[:, :, np.newaxis], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3].astype(np.uint8))


def test_reference_images_hash_bit_for_bit(pdq_reference_dir: Path) -> None:
    with (pdq_reference_dir / "manifest.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) >= 19
    for row in rows:
        result = pdq_of_image(Image.open(pdq_reference_dir / row["file"]))
        assert result.hash_hex == row["pdq_hex"], row["file"]
        if row["quality"]:
            assert result.quality == int(row["quality"]), row["file"]


def test_luma_step_equals_pdqhash_for_every_rgb_colour() -> None:
    values = np.arange(256**3, dtype=np.uint32)
    rgb = np.stack([(values >> 16) & 255, (values >> 8) & 255, values & 255], axis=1)
    rgb = rgb.astype(np.uint8).reshape(4096, 4096, 3)
    expected = (rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114).astype(
        "float32"
    )
    assert np.array_equal(luma_of(rgb), expected)


@pytest.mark.parametrize("name", SAMPLES)
def test_scikit_image_samples_agree_with_pdqhash_and_threatexchange(
    name: str, tmp_path: Path
) -> None:
    rgb = _sample(name)
    ours = pdq_of_rgb(rgb)
    assert ours.hash_hex == _pdqhash_hex(rgb)
    path = tmp_path / f"{name}.png"
    Image.fromarray(rgb).save(path)
    peer_hash, peer_quality = pdq_from_file(path)
    assert (ours.hash_hex, ours.quality) == (peer_hash, peer_quality)


def test_palette_image_is_hashed_by_its_colours_not_its_indices(tmp_path: Path) -> None:
    palette_image = Image.fromarray(_sample("astronaut")).quantize(colors=64)
    path = tmp_path / "astronaut.gif"
    palette_image.save(path)
    reopened = Image.open(path)
    assert reopened.mode == "P"
    ours = pdq_of_image(reopened)
    assert ours.hash_hex == _pdqhash_hex(np.asarray(reopened.convert("RGB")))
    # The peer hashes the palette indices: a different, meaningless hash.
    peer_hash, _ = pdq_from_file(path)
    assert PdqSignal.distance(ours.hash_hex, peer_hash) > 31


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "CMYK", "I;16", "P", "1"])
def test_every_mode_is_converted_to_rgb_first(mode: str) -> None:
    source = Image.fromarray(_sample("coffee"))
    image = source.convert(mode) if mode != "I;16" else source.convert("L").convert("I;16")
    expected = _pdqhash_hex(np.asarray(image.convert("RGB"), dtype=np.uint8))
    assert pdq_of_image(image).hash_hex == expected
    assert rgb_array(image).shape == (*image.size[::-1], 3)


def test_dihedral_hashes_match_rotated_and_flipped_copies() -> None:
    rgb = _sample("chelsea")
    hashes, quality = pdq_dihedral_of_rgb(rgb)
    assert quality == pdq_of_rgb(rgb).quality
    assert hashes["original"] == pdq_of_rgb(rgb).hash_hex
    rotated = pdq_of_rgb(np.ascontiguousarray(np.rot90(rgb))).hash_hex
    flipped = pdq_of_rgb(np.ascontiguousarray(rgb[:, ::-1])).hash_hex
    assert min(PdqSignal.distance(rotated, h) for h in hashes.values()) <= 16
    assert min(PdqSignal.distance(flipped, h) for h in hashes.values()) <= 16
    assert PdqSignal.distance(rotated, hashes["original"]) > 31


def test_reference_rotations_match_only_through_dihedral_hashes(pdq_reference_dir: Path) -> None:
    original, _ = pdq_dihedral_of_rgb(
        rgb_array(Image.open(pdq_reference_dir / "dih-bridge-1-original.jpg"))
    )
    edited = sorted(pdq_reference_dir.glob("dih-bridge-[2-8]-*.jpg"))
    assert edited
    for path in edited:
        single = pdq_of_image(Image.open(path)).hash_hex
        assert PdqSignal.distance(single, original["original"]) > 31, path.name
        assert min(PdqSignal.distance(single, h) for h in original.values()) <= 31, path.name


def test_hashes_have_half_their_bits_set() -> None:
    for name in SAMPLES[:3]:
        assert bin(int(pdq_of_rgb(_sample(name)).hash_hex, 16)).count("1") == 128
