"""The benign images on disk are what the reports say they are."""

from __future__ import annotations

import hashlib

from tests.synth.conftest import read_lines
from veille.synth.generator import SynthResult
from veille.synth.images import hamming_hex, pdq_of_bytes


def test_image_files_match_their_report_hashes(small_scenario: SynthResult) -> None:
    files = sorted((small_scenario.out / "media").glob("*.jpg"))
    assert len(files) == small_scenario.counts["images"] == 12
    on_disk = {f"media/{path.name}": path.read_bytes() for path in files}
    seen = 0
    for report in read_lines(small_scenario.out / "reports.jsonl"):
        for item in report["media"]:  # type: ignore[attr-defined]
            data = on_disk.get(str(item.get("file_name")))
            if data is None:
                continue
            seen += 1
            assert item["md5"] == hashlib.md5(data).hexdigest()
            assert item["sha256"] == hashlib.sha256(data).hexdigest()
            assert (item["pdq"], item["pdq_quality"]) == pdq_of_bytes(data)
    assert seen > 0


def test_imaged_known_items_are_in_the_hash_lists(small_scenario: SynthResult) -> None:
    csv_text = (small_scenario.out / "hashlists/known-content.csv").read_text(encoding="utf-8")
    pdq_lines = (small_scenario.out / "hashlists/known-content.pdq.txt").read_text().splitlines()
    images = read_lines(small_scenario.out / "truth/images.jsonl")
    assert {i["role"] for i in images} == {"known", "new_version", "new"}
    for image in images:
        if image["role"] != "known":
            continue
        data = (small_scenario.out / str(image["file"])).read_bytes()
        assert hashlib.md5(data).hexdigest() in csv_text
        assert f"pdq {pdq_of_bytes(data)[0]}" in pdq_lines


def test_procedural_images_hash_with_good_quality_and_versions_stay_close(
    small_scenario: SynthResult,
) -> None:
    media = read_lines(small_scenario.out / "truth/media.jsonl")
    qualities = [
        pdq_of_bytes(p.read_bytes())[1] for p in (small_scenario.out / "media").glob("*.jpg")
    ]
    assert min(qualities) >= 50
    close = [
        m
        for m in media
        if str(m["content"]).startswith("V-media/") and m["transform"] in ("reencode", "resize")
    ]
    assert all(int(m["distance_bits"]) <= 31 for m in close)  # type: ignore[arg-type]
    assert hamming_hex("ff", "0f") == 4
