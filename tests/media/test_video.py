"""vPDQ on real (benign, procedural) videos: frames, qualities, and a re-encoded copy that matches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.media.procedural_video import procedural_clip, write_mjpeg_avi
from veille.cli import app
from veille.media.hashing import hash_file
from veille.media.signals import PdqSignal
from veille.media.video import (
    VPDQ_QUALITY_FLOOR,
    compare_vpdq,
    vpdq_available,
)

needs_vpdq = pytest.mark.skipif(
    not vpdq_available(), reason="vpdq is not installed (the 'video' extra, built against FFmpeg)"
)

A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
B = "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064"


def _near(pdq: str, bits: int) -> str:
    return f"{int(pdq, 16) ^ ((1 << bits) - 1):064x}"


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    clip = procedural_clip(seconds=3.0, fps=10, size=(320, 240))
    return {
        "original": write_mjpeg_avi(folder / "original.avi", clip, jpeg_quality=90),
        # Re-encoded: three quarters of the size, a third of the bitrate.
        "copy": write_mjpeg_avi(folder / "copy.avi", clip, size=(240, 180), jpeg_quality=40),
        "other": write_mjpeg_avi(folder / "other.avi", procedural_clip(variant=1)),
    }


@needs_vpdq
def test_video_gets_one_vpdq_frame_per_second(videos: dict[str, Path]) -> None:
    result = hash_file(videos["original"])
    assert result.error is None
    assert result.media_type == "video/x-msvideo" and result.pdq is None
    assert result.md5 is not None and result.sha256 is not None
    frames = result.vpdq_frames
    assert frames is not None
    assert [frame["timestamp_s"] for frame in frames] == [0.0, 1.0, 2.0]
    assert [frame["frame"] for frame in frames] == [0, 10, 20]
    for frame in frames:
        assert PdqSignal.validate(frame["pdq"]) == frame["pdq"]
        assert VPDQ_QUALITY_FLOOR <= frame["quality"] <= 100
    assert len({frame["pdq"] for frame in frames}) == 3  # the scene moves
    assert "vPDQ: 3 frames, 3 at quality ≥ 50" in result.notes


@needs_vpdq
def test_reencoded_copy_matches_and_another_clip_does_not(videos: dict[str, Path]) -> None:
    assert videos["copy"].stat().st_size < videos["original"].stat().st_size / 2
    frames = {name: hash_file(path).vpdq_frames or [] for name, path in videos.items()}
    copy = compare_vpdq(frames["copy"], frames["original"])
    assert (copy.query_match_percent, copy.compared_match_percent) == (100.0, 100.0)
    assert copy.is_match()
    other = compare_vpdq(frames["other"], frames["original"])
    assert other.query_match_percent == 0.0 and not other.is_match()


@needs_vpdq
def test_comparison_agrees_with_threatexchange(videos: dict[str, Path]) -> None:
    brute = pytest.importorskip("threatexchange.extensions.vpdq.vpdq_brute_matcher")
    util = pytest.importorskip("threatexchange.extensions.vpdq.vpdq_util")
    frames = {name: hash_file(path).vpdq_frames or [] for name, path in videos.items()}

    def compact(name: str) -> list[object]:
        return [
            util.VpdqCompactFeature(f["pdq"], f["quality"], f["timestamp_s"]) for f in frames[name]
        ]

    for query in frames:
        for compared in frames:
            ours = compare_vpdq(frames[query], frames[compared])
            theirs = brute.match_VPDQ_hash_brute(compact(query), compact(compared), 50, 31)
            assert (ours.query_match_percent, ours.compared_match_percent) == pytest.approx(
                (theirs.query_match_percent, theirs.compared_match_percent)
            )


@needs_vpdq
def test_cli_hash_writes_the_vpdq_frames(videos: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        app, ["hash", str(videos["original"]), "-o", str(out), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(record["vpdq_frames"]) == 3 and "error" not in record


def test_comparison_counts_unique_usable_frames_only() -> None:
    query = [
        {"pdq": A, "quality": 100},
        {"pdq": A, "quality": 100},  # the same hash again counts once
        {"pdq": B, "quality": 100},
        {"pdq": _near(B, 1), "quality": 20},  # below the quality floor
    ]
    compared = [{"pdq": _near(A, 31), "quality": 90}, {"pdq": _near(B, 32), "quality": 90}]
    result = compare_vpdq(query, compared)
    assert (result.query_match_percent, result.compared_match_percent) == (50.0, 50.0)
    assert not result.is_match() and result.is_match(query_percent=50.0)
    assert compare_vpdq(query, compared, distance_bits=32).is_match()
    assert compare_vpdq([], compared).query_match_percent == 0.0
