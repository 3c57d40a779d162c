"""Do the trained networks of the committed results use spike timing? (issue 21, item 3)

Every run of each result folder is evaluated, weights frozen, on fresh trials whose input spikes
are jittered by a Gaussian of standard deviation sigma (spike counts kept: rates unchanged;
``locallearn.timing``); the table gives the task metric per sigma, mean ± std [95 % CI] over the
folder's seeds. A metric that holds up to a sigma says the network reads its inputs at a coarser
time scale than that.

    python benchmarks/spike_timing.py [--trials 512] [--sigmas 0,2,5,10,20,50,100,200]

writes ``results/timing/jitter.json`` (rendered by ``locallearn report``).
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from locallearn import report, timing
from locallearn.stats import summarize

FOLDERS = {
    "evidence, e-prop random": "results/evidence",
    "evidence, e-prop symmetric": "results/evidence-symmetric",
    "store-recall, e-prop random": "results/pattern-store-recall/store_recall-eprop-random-seed*",
    "store-recall, e-prop symmetric": "results/pattern-store-recall/store_recall-eprop-symmetric-seed*",
}


def _runs(pattern: str) -> list[Path]:
    if "*" in pattern:
        return sorted(Path().glob(pattern))
    return sorted(p.parent for p in Path(pattern).glob("*/weights.npz"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=512)
    parser.add_argument("--sigmas", default="0,2,5,10,20,50,100,200", help="jitter sigmas in ms")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="results/timing/jitter.json")
    args = parser.parse_args(argv)
    sigmas = [float(s) for s in args.sigmas.split(",")]
    jobs = {label: _runs(pattern) for label, pattern in FOLDERS.items()}
    flat = [(label, run) for label, runs in jobs.items() for run in runs]
    with ProcessPoolExecutor(args.workers) as pool:
        curves = list(
            pool.map(
                timing.jitter_curve, [r for _, r in flat], [sigmas] * len(flat), [args.trials] * len(flat)
            )
        )
    by_label = {label: [c for (lab, _), c in zip(flat, curves) if lab == label] for label in jobs}
    rows = [
        [f"{sigma:g} ms", *[summarize([c[k] for c in by_label[label]]).text(3) for label in jobs]]
        for k, sigma in enumerate(sigmas)
    ]
    for row in rows:
        print(" | ".join(row), flush=True)
    command = "python benchmarks/spike_timing.py"
    command += f" --trials {args.trials}" if args.trials != 512 else ""
    report.write_benchmark(
        args.out,
        title=(
            f"**Accuracy under input spike-time jitter** (weights frozen; {args.trials} fresh trials per "
            "run; every input spike moved by N(0, sigma), counts kept), mean ± std [95 % CI] over seeds"
        ),
        command=command,
        columns=["jitter sigma", *jobs],
        rows=rows,
        runs={label: [str(r) for r in runs] for label, runs in jobs.items()},
        curves={label: by_label[label] for label in jobs},
        sigmas_ms=sigmas,
    )
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
