"""Assemble bench/RESULTS.md from the latest result of every benchmark.

Each benchmark writes ``bench/results/<name>.md``; this puts them in one page,
in the order below, so that the committed results are easy to read.

    .venv/bin/python bench/collect.py
"""

from __future__ import annotations

from pathlib import Path

BENCH = Path(__file__).parent
ORDER = (
    "import",
    "synth",
    "hash",
    "match",
    "robustness",
    "limits",
    "intake",
    "login_guess",
    "flow",
    "triage",
    "travel",
)


def main() -> None:
    results = BENCH / "results"
    names = [n for n in ORDER if (results / f"{n}.md").exists()]
    names += sorted(p.stem for p in results.glob("*.md") if p.stem not in ORDER)
    parts = [
        "# Benchmark results\n",
        "Latest committed results of the benchmarks in `bench/`, each with the machine and "
        "package versions it ran on. Re-run a benchmark (`.venv/bin/python bench/NAME.py`), then "
        "`.venv/bin/python bench/collect.py` to refresh this page.\n",
    ]
    parts += [(results / f"{name}.md").read_text(encoding="utf-8").strip() + "\n" for name in names]
    (BENCH / "RESULTS.md").write_text("\n".join(parts), encoding="utf-8")
    print(f"bench/RESULTS.md: {', '.join(names)}")


if __name__ == "__main__":
    main()
