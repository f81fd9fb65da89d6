"""How fast `veille synth` generates each size, and in how much memory.

Usage: ``python bench/synth_speed.py [small medium large] [--out-root DIR]``.
Each size runs in a fresh process (so peak memory is its own) and prints one
Markdown table row: reports, seconds, reports/s, peak resident memory, size
on disk, and the CPU time of the generation and its forked parts (the figure
to compare on a shared, loaded machine).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
from veille.synth.generator import SynthOptions, generate_scenario
started = time.perf_counter()
result = generate_scenario(SynthOptions(out=Path(sys.argv[1]), seed=1, size=sys.argv[2], images=500))
usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
peak = max(usage.ru_maxrss for usage in usages)
cpu = sum(usage.ru_utime + usage.ru_stime for usage in usages)
print(json.dumps({"seconds": time.perf_counter() - started, **result.counts, "peak_mb": peak / 1024, "cpu_s": cpu}))
"""


def folder_mb(folder: Path) -> float:
    """Size of every file under ``folder``, in MB."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="*", default=["small", "medium"])
    parser.add_argument("--out-root", type=Path, default=None)
    args = parser.parse_args()
    root = args.out_root or Path(tempfile.mkdtemp(prefix="veille-synth-bench-"))
    print(
        "| size | reports | media items | seconds | reports/s | CPU s | peak memory (MB) | on disk (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        out = root / size
        shutil.rmtree(out, ignore_errors=True)
        run = subprocess.run(
            [sys.executable, "-c", CHILD, str(out), size],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(run.stdout.strip().splitlines()[-1])
        print(
            f"| {size} | {row['reports']:,} | {row['media_items']:,} | {row['seconds']:.1f} | "
            f"{row['reports'] / row['seconds']:,.0f} | {row['cpu_s']:.1f} | {row['peak_mb']:.0f} | "
            f"{folder_mb(out):.0f} |"
        )


if __name__ == "__main__":
    main()
