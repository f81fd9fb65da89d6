"""Hashing files: good images, bad files reported per file, folders, the CLI."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from veille.cli import app
from veille.media import HashOptions, hash_file
from veille.media.hashrun import hash_paths, iter_files
from veille.media.video import ENABLE_VIDEO_HINT, vpdq_available


def _jpeg(path: Path, name: str = "astronaut", quality: int = 90) -> Path:
    Image.fromarray(getattr(data, name)()).convert("RGB").save(path, quality=quality)
    return path


def test_jpeg_gets_every_hash(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "a.jpg")
    result = hash_file(path)
    raw = path.read_bytes()
    assert result.error is None
    assert result.md5 == hashlib.md5(raw).hexdigest()
    assert result.sha1 == hashlib.sha1(raw).hexdigest()
    assert result.sha256 == hashlib.sha256(raw).hexdigest()
    assert result.size_bytes == len(raw)
    assert result.media_type == "image/jpeg"
    assert (result.width, result.height) == (512, 512)
    assert result.pdq is not None and len(result.pdq) == 64
    assert result.pdq_quality == 100


def test_truncated_jpeg_is_reported_with_byte_hashes(tmp_path: Path) -> None:
    whole = _jpeg(tmp_path / "whole.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(whole[: len(whole) // 2])
    result = hash_file(path)
    assert result.error is not None and result.error.startswith("truncated image")
    assert result.md5 == hashlib.md5(whole[: len(whole) // 2]).hexdigest()
    assert result.pdq is None


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("1", (20_000, 20_000)).save(path)  # 400 megapixels, a few kB on disk
    result = hash_file(path)
    assert result.error is not None
    assert result.error.startswith("decompression bomb:")
    assert "400000000 pixels" in result.error
    assert result.pdq is None
    small = hash_file(_jpeg(tmp_path / "a.jpg"), HashOptions(max_pixels=1000))
    assert small.error is not None and "exceeds the limit of 1000" in small.error


def test_unsupported_and_empty_files(tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_text("not an image at all")
    assert hash_file(fake).error == "unsupported or corrupt image: no decoder recognises the file"
    empty = tmp_path / "empty.png"
    empty.touch()
    assert hash_file(empty).error == "empty file"
    text = tmp_path / "notes.txt"
    text.write_text("benign words")
    plain = hash_file(text)
    assert plain.error is None and plain.pdq is None and plain.media_type == "text/plain"
    missing = hash_file(tmp_path / "absent.jpg")
    assert missing.error is not None and missing.error.startswith("unreadable file")


def test_low_quality_hash_is_kept_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "flat.png"
    Image.new("RGB", (64, 64), (120, 120, 120)).save(path)
    result = hash_file(path)
    assert result.pdq is not None and result.pdq_quality is not None
    assert result.pdq_quality < 50
    assert any("below the floor of 50" in note for note in result.notes)


def test_video_without_vpdq_says_how_to_enable_it(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    result = hash_file(path)
    assert result.md5 is not None and result.pdq is None
    if vpdq_available():
        assert result.error is not None and result.error.startswith("undecodable video")
    else:
        assert ENABLE_VIDEO_HINT in result.notes


def test_folder_walk_is_recursive_sorted_and_parallel_keeps_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    names = ["astronaut", "coffee", "chelsea", "rocket", "camera", "moon"]
    for index, name in enumerate(names):
        folder = tmp_path / ("sub" if index % 2 else "")
        _jpeg(folder / f"{index}.jpg", name)
    (tmp_path / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    files = list(iter_files([tmp_path]))
    assert [p.name for p in files] == [
        "0.jpg",
        "2.jpg",
        "4.jpg",
        "1.jpg",
        "3.jpg",
        "5.jpg",
        "broken.jpg",
    ]
    serial = [r.as_record() for r in hash_paths(files, workers=1)]
    parallel = [r.as_record() for r in hash_paths(files, workers=2)]
    assert serial == parallel
    assert sum(r["error"] is not None for r in serial) == 1


def test_cli_hash_writes_jsonl_and_csv(tmp_path: Path) -> None:
    _jpeg(tmp_path / "a.jpg")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(10))
    runner = CliRunner()
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app,
        [
            "hash",
            str(tmp_path / "a.jpg"),
            str(tmp_path / "bad.png"),
            "-o",
            str(out),
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [Path(r["path"]).name for r in records] == ["a.jpg", "bad.png"]
    assert "pdq" in records[0] and "error" in records[1]
    csv_result = runner.invoke(
        app, ["hash", str(tmp_path / "a.jpg"), "--format", "csv", "--workers", "1"]
    )
    assert csv_result.exit_code == 0
    assert csv_result.stdout.splitlines()[0].startswith("path,size_bytes,media_type,md5")
    bad = runner.invoke(app, ["hash", str(tmp_path / "a.jpg"), "--format", "xml"])
    assert bad.exit_code == 2


def test_dihedral_option_adds_eight_hashes(tmp_path: Path) -> None:
    result = hash_file(_jpeg(tmp_path / "a.jpg"), HashOptions(dihedral=True))
    assert result.pdq_dihedral is not None and len(result.pdq_dihedral) == 8
    assert result.pdq_dihedral["original"] == result.pdq


def test_rgba_png_hash_ignores_alpha(tmp_path: Path) -> None:
    rgb = np.asarray(Image.fromarray(data.coffee()))
    alpha = np.full(rgb.shape[:2], 7, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([rgb, alpha])).save(buffer, format="PNG")
    (tmp_path / "rgba.png").write_bytes(buffer.getvalue())
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert hash_file(tmp_path / "rgba.png").pdq == hash_file(tmp_path / "rgb.png").pdq
