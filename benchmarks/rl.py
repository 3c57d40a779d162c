"""Single-lifetime RL results: each rule on each environment for several seeds.

Every cell is an ordinary lifetime run directory (``locallearn.runs.run_lifetime``) under
--out; two run at a time on the 2-core machine. Prints the task metric over the last episodes of
each lifetime (catch: catch rate over the last 100 episodes), mean ± sample std [95 % t-interval]
over seeds (``locallearn.stats``), wall time per lifetime, and each target.

    python benchmarks/rl.py [--tasks catch] [--rules reward-eprop rstdp] [--seeds 0 1 2]
                            [--steps N] [--out runs/rl]
"""

from __future__ import annotations

import argparse
import json
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from locallearn.runs import run_lifetime
from locallearn.stats import summarize

# metric, target, wall-time budget in s (issue 4)
TARGETS = {
    "catch": ("catch_rate", 0.95, 300.0),
    "flappy": ("pipes", 20.0, 1800.0),
    "pong": ("score", 0.0, 1800.0),
}


def run_cell(task: str, rule: str, seed: int, steps: int | None, out: Path) -> dict:
    run_dir = out / f"{task}-{rule}-seed{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    config = {"task": task, "rule": {"name": rule}, "seed": seed}
    if steps:
        config["training"] = {"steps": steps}
    summary = run_lifetime(config, run_dir, progress=False)
    summary["run_dir"] = str(run_dir)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["catch"])
    parser.add_argument("--rules", nargs="+", default=["reward-eprop", "rstdp"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None, help="override the task's lifetime")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/rl")
    args = parser.parse_args(argv)
    out = Path(args.out)
    cells = [(t, r, s) for t in args.tasks for r in args.rules for s in args.seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {cell: pool.submit(run_cell, *cell, args.steps, out) for cell in cells}
        results = {cell: future.result() for cell, future in futures.items()}
    print(
        f"{'task':<8} {'rule':<14} {'metric':<11} {'mean ± sd [95 % CI] over seeds':>22} {'per seed':>24} "
        f"{'wall s (max)':>13}  target"
    )
    for task in args.tasks:
        for rule in args.rules:
            rows = [results[(task, rule, s)] for s in args.seeds]
            values = np.array([r["value"] for r in rows], float)
            metric, target, budget = TARGETS.get(task, (rows[0]["metric"], None, None))
            wall = max(r["wall_seconds"] for r in rows)
            per_seed = " ".join(f"{v:.3f}" for v in values)
            verdict = ""
            if target is not None:
                ok = values.mean() >= target and wall <= budget
                verdict = f">= {target} in <= {budget:.0f} s: {'PASS' if ok else 'FAIL'}"
            print(
                f"{task:<8} {rule:<14} {metric:<11} {summarize(values).text():>36} "
                f"{per_seed:>24} {wall:>13.0f}  {verdict}"
            )
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"/".join(map(str, k)): v for k, v in results.items()}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
