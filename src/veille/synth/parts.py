"""Generate the parts of a scenario side by side, one forked process per part.

The report streams are split in two parts that share nothing while they run:
each part has its own random streams and its own id prefix, so the files are
the same whether the parts run in parallel or one after the other. A forked
child inherits the world, the offenders and the content base already built,
writes its part files and hands its truth back through a pickle file.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import pickle
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol


class PartRunner(Protocol):
    """What can generate one part (the generator's scenario)."""

    options: Any

    def run_part(
        self, part: int, plan: list[list[int]], tick: Callable[[int], None]
    ) -> dict[str, Any]: ...


def _child(runner: PartRunner, part: int, plan: list[list[int]], done: Any, result: Path) -> None:
    def tick(weeks: int) -> None:
        done.value = weeks

    try:
        payload: dict[str, Any] = {"ok": runner.run_part(part, plan, tick)}
    except BaseException:  # handed to the parent, which raises it
        payload = {"error": traceback.format_exc()}
    with result.open("wb") as stream:
        pickle.dump(payload, stream, protocol=pickle.HIGHEST_PROTOCOL)


def run_parts(
    runner: PartRunner,
    plan: list[list[int]],
    weeks: int,
    on_progress: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    """Run every part (in parallel where ``fork`` exists) and return their truth, in order."""
    out: Path = runner.options.out
    total = weeks * len(plan)
    if "fork" not in multiprocessing.get_all_start_methods() or os.environ.get(
        "VEILLE_SYNTH_SERIAL"
    ):
        return _run_serially(runner, plan, weeks, on_progress)
    context = multiprocessing.get_context("fork")
    counters = [context.Value("i", 0) for _ in plan]
    results = [out / "truth" / f".part{part}.pickle" for part in range(len(plan))]
    children = [
        context.Process(target=_child, args=(runner, part, plan, counters[part], results[part]))
        for part in range(len(plan))
    ]
    for child in children:
        child.start()
    while any(child.is_alive() for child in children):
        if on_progress is not None:
            on_progress(sum(c.value for c in counters), total)
        time.sleep(0.2)
    for child in children:
        child.join()
    pieces = []
    for part, path in enumerate(results):
        if not path.exists():
            raise RuntimeError(
                f"part {part} of the generation died (exit code {children[part].exitcode})"
            )
        with path.open("rb") as stream:
            payload = pickle.load(stream)
        path.unlink()
        if "error" in payload:
            raise RuntimeError(f"part {part} of the generation failed:\n{payload['error']}")
        pieces.append(payload["ok"])
    if on_progress is not None:
        on_progress(total, total)
    return pieces


def _run_serially(
    runner: PartRunner,
    plan: list[list[int]],
    weeks: int,
    on_progress: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    # Each part works on its own copy, exactly as a forked child would.
    pieces = []
    for part in range(len(plan)):
        offset = part * weeks

        def tick(done: int, offset: int = offset) -> None:
            if on_progress is not None:
                on_progress(offset + done, weeks * len(plan))

        pieces.append(copy.deepcopy(runner).run_part(part, plan, tick))
    return pieces


def concatenate(sources: list[Path], target: Path) -> None:
    """Join part files into ``target`` in order and remove them."""
    with target.open("wb") as joined:
        for source in sources:
            with source.open("rb") as stream:
                shutil.copyfileobj(stream, joined, 1 << 20)
            source.unlink()
