"""Helpers for tests that run Veille's real processes and kill them mid-task."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path


def kill_once_started(
    process: subprocess.Popen[bytes], marker: Path, timeout_s: float = 60
) -> None:
    """Wait until ``process`` writes ``marker`` (it has begun its task), then ``kill -9`` it."""
    try:
        deadline = time.monotonic() + timeout_s
        while not marker.exists():
            assert time.monotonic() < deadline and process.poll() is None, process.stderr
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
