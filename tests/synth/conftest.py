"""Scenarios shared by the synth tests (generated once per test session)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

from veille.synth.generator import SynthOptions, SynthResult, generate_scenario


@pytest.fixture(scope="session")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """A 3,000-report scenario with a dozen real images."""
    out = tmp_path_factory.mktemp("scenario") / "seed11"
    return generate_scenario(SynthOptions(out=out, seed=11, reports=3_000, images=12))


@pytest.fixture(scope="session")
def effects_scenario(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """A 30,000-report scenario without images, large enough to measure the planted effects."""
    out = tmp_path_factory.mktemp("scenario") / "seed5"
    return generate_scenario(SynthOptions(out=out, seed=5, reports=30_000, images=0))


@lru_cache(maxsize=32)
def _parsed(path: Path, mtime_ns: int) -> tuple[dict[str, object], ...]:
    with path.open(encoding="utf-8") as stream:
        return tuple(json.loads(line) for line in stream if line.strip())


def read_lines(path: Path) -> list[dict[str, object]]:
    """The JSON objects of a JSON Lines file (parsed once per file version; do not modify)."""
    return list(_parsed(path, path.stat().st_mtime_ns))
