"""The same seed gives the same bytes; another seed gives another world."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from veille.synth.generator import SynthOptions, SynthResult, generate_scenario


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_same_seed_gives_byte_identical_files(small_scenario: SynthResult, tmp_path: Path) -> None:
    again = generate_scenario(
        SynthOptions(out=tmp_path / "again", seed=11, reports=3_000, images=12)
    )
    first, second = _digests(small_scenario.out), _digests(again.out)
    assert len(first) > 20  # reports, truth, hash lists, 12 images...
    assert first == second
    assert again.counts == small_scenario.counts


def test_another_seed_gives_other_reports(small_scenario: SynthResult, tmp_path: Path) -> None:
    other = generate_scenario(
        SynthOptions(out=tmp_path / "other", seed=12, reports=3_000, images=0)
    )
    mine = (small_scenario.out / "reports.jsonl").read_bytes()
    theirs = (other.out / "reports.jsonl").read_bytes()
    assert mine != theirs
    # Same size target, so roughly the same volume (noise only).
    assert abs(other.counts["reports"] - small_scenario.counts["reports"]) < 500


def test_parallel_and_serial_generation_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = {"seed": 3, "reports": 800, "images": 4}
    generate_scenario(SynthOptions(out=tmp_path / "parallel", **options))  # type: ignore[arg-type]
    monkeypatch.setenv("VEILLE_SYNTH_SERIAL", "1")
    generate_scenario(SynthOptions(out=tmp_path / "serial", **options))  # type: ignore[arg-type]
    assert _digests(tmp_path / "parallel") == _digests(tmp_path / "serial")
