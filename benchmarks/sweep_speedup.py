"""The same 8-cell sweep with 1 and with 2 worker processes: wall time and speed-up.

Cells: e-prop with random and symmetric feedback x 4 seeds on a shortened evidence-accumulation
task (40 inputs, 50 neurons, 1,000 ms trials, 40 training trials each).

    python benchmarks/sweep_speedup.py [--out runs/sweep_speedup]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from locallearn import sweep

OVERRIDES = {
    "task": {"n_cues": 3, "seq_len": 1000},
    "network": {"n_rec": 50, "n_adaptive": 25},
    "training": {"n_trials": 40, "eval_every": 20, "validation_trials": 8, "test_trials": 16, "target": None},
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/sweep_speedup")
    args = parser.parse_args(argv)
    cells = sweep.cells(
        sweep.parse_rules("eprop:random,eprop:symmetric"), ["evidence"], [0, 1, 2, 3], OVERRIDES
    )
    times, values = {}, {}
    for workers in (1, 2):
        out = Path(args.out) / f"workers{workers}"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        rows = sweep.run_sweep(cells, out, workers=workers)
        times[workers] = time.perf_counter() - start
        values[workers] = [r["value"] for r in rows]
    print(
        f"8 cells: 1 worker {times[1]:.1f} s, 2 workers {times[2]:.1f} s, "
        f"speed-up {times[1] / times[2]:.2f}x; identical results: {values[1] == values[2]}"
    )


if __name__ == "__main__":
    main()
