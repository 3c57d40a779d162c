"""Lifetimes in lockstep against separate processes: environment steps per second per core.

For each task and each K, the same K lifetimes (seeds 0..K-1, the task's lifetime defaults,
``--steps`` each, no frozen evaluation) run two ways on the same ``--cores`` cores, in the same
invocation, alternating (A, B, A, B, ... ``--repeats`` times each, medians):

* **separate**: K processes at once, one lifetime each (what `compare` does with K cells);
* **lockstep**: ``--cores`` processes, each holding K / cores lifetimes in lockstep
  (``runs.execute_lockstep``, what `compare --lockstep` does).

Every process has one numba thread and one BLAS thread (equal on both sides); the time is wall
time of the whole batch, process start and the numba cache load included (the same on both
sides, and part of what separate processes cost). Throughput = K x steps / wall / cores.

    python benchmarks/lockstep.py [--tasks catch,flappy,pong,ale_pong,minatar_breakout]
        [--ks 1,4,8,16] [--steps 20000] [--repeats 3] [--cores 2] [--out results/perf/lockstep.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from locallearn import report

EXTRAS = {"ale_pong": "ale_py", "minatar_breakout": "minatar"}
THREADS = {
    name: "1" for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
}

WORKER = """
import json, sys
from locallearn.runs import execute_lockstep
task, steps, seeds, root = json.loads(sys.argv[1])
configs = [{"task": task, "seed": s, "training": {"steps": steps, "eval_episodes": 0}} for s in seeds]
execute_lockstep(configs, [f"{root}/seed{s}" for s in seeds], progress=False)
"""


def batch(task: str, steps: int, groups: list[list[int]]) -> float:
    """Wall seconds for all ``groups`` (one process each, started together) to finish."""
    env = {**os.environ, **THREADS}
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps([task, steps, seeds, f"{root}/g{k}"])], env=env
            )
            for k, seeds in enumerate(groups)
        ]
        codes = [p.wait() for p in processes]
        wall = time.perf_counter() - start
    if any(codes):
        raise RuntimeError(f"a {task} process failed (exit codes {codes})")
    return wall


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="catch,flappy,pong,ale_pong,minatar_breakout")
    parser.add_argument("--ks", default="1,4,8,16")
    parser.add_argument("--steps", type=int, default=20_000, help="environment steps per lifetime")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--out", default="results/perf/lockstep.json")
    args = parser.parse_args(argv)
    rows, raw = [], {}
    for task in args.tasks.split(","):
        if task in EXTRAS:
            try:
                __import__(EXTRAS[task])
            except ModuleNotFoundError:
                print(f"{task}: skipped ({EXTRAS[task]} is not installed)")
                continue
        batch(task, 200, [[0]])  # compile once into the numba cache: no side pays for it below
        for k in map(int, args.ks.split(",")):
            seeds = list(range(k))
            lockstep_groups = [seeds[i :: args.cores] for i in range(min(args.cores, k))]
            times = {"separate": [], "lockstep": []}
            for _ in range(args.repeats):
                times["separate"].append(batch(task, args.steps, [[s] for s in seeds]))
                times["lockstep"].append(batch(task, args.steps, lockstep_groups))
            cores = min(args.cores, k)
            rate = {way: k * args.steps / statistics.median(t) / cores for way, t in times.items()}
            ratios = sorted(a / b for a, b in zip(times["separate"], times["lockstep"]))
            raw[f"{task}/K={k}"] = times
            rows.append(
                [
                    task,
                    k,
                    cores,
                    f"{rate['separate']:,.0f}",
                    f"{rate['lockstep']:,.0f}",
                    f"{rate['lockstep'] / rate['separate']:.2f}× [{ratios[0]:.2f}, {ratios[-1]:.2f}]",
                ]
            )
            print(" | ".join(map(str, rows[-1])), flush=True)
    report.write_benchmark(
        Path(args.out),
        f"Lifetimes in lockstep against separate processes: environment steps/s per core, "
        f"{args.steps:,} steps per lifetime, medians of {args.repeats} interleaved repeats "
        "(range of the per-repeat ratios), 1 numba and 1 BLAS thread per process",
        "python benchmarks/lockstep.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        ["task", "K lifetimes", "cores", "separate processes", "lockstep", "lockstep / separate"],
        rows,
        seconds=raw,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
