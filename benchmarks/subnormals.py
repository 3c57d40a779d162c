"""What subnormal floats cost a lifetime: steps/s with ``network.flush_subnormals`` off and on.

For each task, lifetimes of ``--steps`` steps at the task's defaults (seed 0, no frozen
evaluation) run alternately without and with the flush (off, on, off, on, ... ``--repeats`` times
each, in this process, after one short lifetime that loads the compiled kernels); medians and the
range of the per-pair ratios. Beside them: how many float32 entries of the unflushed agent's
state (weights, traces, optimiser; its final checkpoint) are subnormal, and whether the two
lifetimes still agree in their episode rows (they need not: the flush changes the arithmetic
below 1.2e-38, and a spike that such a value decided can come out differently).

Run it on a quiet machine (with other work on the cores the figures rise together).

    python benchmarks/subnormals.py [--tasks catch,flappy,pong,ale_pong,minatar_breakout]
        [--steps 20000] [--repeats 3] [--out results/perf/subnormals.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from locallearn import io, numerics, report
from locallearn.runs import run_lifetime

EXTRAS = {"ale_pong": "ale_py", "minatar_breakout": "minatar"}


def lifetime(task: str, steps: int, flush: bool, out: Path) -> tuple[float, list[dict]]:
    """(seconds, episode rows) of one lifetime, its final state checkpointed in ``out``."""
    config = {
        "task": task,
        "seed": 0,
        "network": {"flush_subnormals": flush},
        "training": {"steps": steps, "eval_episodes": 0, "checkpoint_every": steps},
    }
    start = time.perf_counter()
    run_lifetime(config, out, progress=False)
    seconds = time.perf_counter() - start
    path = out / "metrics.jsonl"
    written = io.read_jsonl(path) if io.jsonl_exists(path) else []  # none if no episode ended
    rows = [{k: v for k, v in row.items() if k != "wall_seconds"} for row in written]
    return seconds, rows


def subnormal_share(run_dir: Path) -> tuple[int, int]:
    """(subnormal entries, float32 entries) in a run's checkpointed state."""
    tiny = np.finfo(np.float32).tiny
    arrays = np.load(run_dir / "checkpoint.npz")
    found = total = 0
    for name in arrays.files:
        values = arrays[name]
        if values.dtype == np.float32:
            found += int(np.count_nonzero((np.abs(values) < tiny) & (values != 0)))
            total += values.size
    return found, total


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="catch,flappy,pong,ale_pong,minatar_breakout")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="results/perf/subnormals.json")
    args = parser.parse_args(argv)
    if not numerics.supported():
        sys.exit("subnormal flushing needs an x86-64 CPU")
    rows, raw = [], {}
    for task in args.tasks.split(","):
        if task in EXTRAS:
            try:
                __import__(EXTRAS[task])
            except ModuleNotFoundError:
                print(f"{task}: skipped ({EXTRAS[task]} is not installed)")
                continue
        with tempfile.TemporaryDirectory() as root:
            lifetime(task, 200, False, Path(root) / "warm")
            times = {False: [], True: []}
            episodes = {}
            for repeat in range(args.repeats):
                for flush in (False, True):
                    out = Path(root) / f"{flush}{repeat}"
                    seconds, episodes[flush] = lifetime(task, args.steps, flush, out)
                    times[flush].append(seconds)
            found, total = subnormal_share(Path(root) / "False0")
        rate = {flush: args.steps / statistics.median(t) for flush, t in times.items()}
        ratios = sorted(a / b for a, b in zip(times[False], times[True]))
        same = episodes[False] == episodes[True]
        raw[task] = {"ieee": times[False], "flushed": times[True]}
        rows.append(
            [
                task,
                f"{rate[False]:,.0f}",
                f"{rate[True]:,.0f}",
                f"{rate[True] / rate[False]:.2f}× [{ratios[0]:.2f}, {ratios[-1]:.2f}]",
                f"{found:,} of {total:,} ({100 * found / total:.1f} %)",
                "yes" if same else f"no ({len(episodes[False])} vs {len(episodes[True])} episodes)",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)
    report.write_benchmark(
        Path(args.out),
        f"Subnormal floats in a lifetime: steps/s with IEEE subnormals and with them flushed to zero "
        f"(network.flush_subnormals), {args.steps:,}-step lifetimes, seed 0, float32, medians of "
        f"{args.repeats} interleaved repeats (range of the per-pair ratios); subnormal entries in the "
        "unflushed agent's final state",
        "python benchmarks/subnormals.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        ["task", "IEEE steps/s", "flushed steps/s", "flushed / IEEE", "subnormal state entries"]
        + ["same episodes"],
        rows,
        seconds=raw,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
