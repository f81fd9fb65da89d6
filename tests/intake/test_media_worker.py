"""The media worker's low-priority hashing process."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from veille.intake.hashing_process import LowPriorityHasher
from veille.intake.media_hashing import hash_in_thread
from veille.intake.worker import MediaWorker
from veille.store.db import Database


def _image(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def _niceness_of_child(hasher: LowPriorityHasher) -> int:
    return hasher._pool.submit(os.nice, 0).result(timeout=60)


def test_low_priority_process_hashes_like_the_thread_and_runs_at_nice_19(tmp_path: Path) -> None:
    files = [str(_image(tmp_path / f"{seed}.png", seed)) for seed in range(3)]
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    files.append(str(tmp_path / "broken.jpg"))
    hasher = LowPriorityHasher(tmp_path / "warm-up")
    try:
        assert _niceness_of_child(hasher) == 19
        in_process = hasher(files)
    finally:
        hasher.close()
    in_thread = hash_in_thread(files)
    assert in_process == in_thread
    assert all(h.pdq and len(h.pdq) == 64 for h in in_process[:3])
    # A file that cannot be decoded gets no PDQ; nothing is raised.
    assert in_process[3].pdq is None


def test_the_hashing_process_priority_is_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEILLE_WORKER_HASH_NICE", "0")
    from veille.intake.settings import IntakeSettings

    hasher = LowPriorityHasher(tmp_path / "warm-up", IntakeSettings().worker_hash_nice)
    try:
        assert _niceness_of_child(hasher) == os.nice(0)
    finally:
        hasher.close()


def test_worker_leaves_the_cpu_to_requests_but_not_for_ever(database: Database) -> None:
    busy = [True]
    worker = MediaWorker(database, busy=lambda: busy[0], max_pause_s=60)
    assert worker._should_yield()
    busy[0] = False
    assert not worker._should_yield()
    busy[0] = True
    worker._worked_at -= 61  # the last batch is older than max_pause_s: work anyway
    assert not worker._should_yield()
    assert not MediaWorker(database)._should_yield()  # no busy signal: never yields


def test_idle_cpu_share_is_read_from_proc_stat(tmp_path: Path) -> None:
    from veille.web.state import IdleCpu

    stat = tmp_path / "stat"
    clock = [0.0]
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n")
    meter = IdleCpu(str(stat), window_s=1.0, clock=lambda: clock[0])
    stat.write_text("cpu  160 0 70 810 60 0 0 0 0 0\n")
    clock[0] = 0.5
    assert meter.share() is None  # the first window has not closed yet
    clock[0] = 1.0
    assert meter.share() == 20 / 100  # 100 more ticks, 10 idle and 10 waiting for disk
    stat.write_text("cpu  160 0 70 900 60 0 0 0 0 0\n")
    clock[0] = 1.5
    assert meter.share() == 20 / 100  # within the next window the last share stands
    clock[0] = 2.0
    assert meter.share() == 1.0  # 90 more ticks, all idle
    clock[0] = 3.0
    assert meter.share() == 1.0  # no tick since: the last share stands
    stat.write_text("cpu  180 60 80 920 60 0 0 0 0 0\n")
    clock[0] = 4.0
    # 110 more ticks: 20 idle and 60 at a lowered priority (the hashing process) count as idle.
    assert meter.share() == 80 / 110
    assert IdleCpu(str(tmp_path / "missing"), window_s=0).share() is None
