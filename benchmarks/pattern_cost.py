"""What SPADE costs, and what a second worker buys: 100 neurons x 10 s at 1 ms, a 4-neuron pattern
injected 30 times into 5 Hz Poisson background, ``--surrogates`` spike-dithered surrogates
(issue 21: 1,000), drawn in one share (elephant's own ``spade``) and in 2 shares on a process
pool (``patterns.spade(workers=2)``); interleaved repeats, medians, the number of patterns found
and whether all of them lie within the injected neurons.

    python benchmarks/pattern_cost.py [--surrogates 1000] [--repeats 3] [--out results/perf/pattern_cost.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from locallearn import patterns, report


def injected(neurons: int) -> tuple[int, ...]:
    """The pattern's four neurons, spread over the population."""
    return tuple(int(n) for n in np.linspace(3, neurons - 12, 4))


def data(neurons: int = 100, steps: int = 10_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raster = (rng.random((steps, neurons)) < 0.005).astype(np.float32)
    starts = rng.choice(np.arange(0, steps - 10, 25), 30, replace=False)
    raster[starts[:, None], list(injected(neurons))] = 1
    return raster


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--surrogates", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", default="results/perf/pattern_cost.json")
    args = parser.parse_args(argv)
    raster = data(args.neurons, int(args.seconds * 1000))
    times: dict[int, list[float]] = {1: [], 2: []}
    found: dict[int, list] = {}
    for _ in range(args.repeats):
        for workers in (1, 2):
            start = time.perf_counter()
            result = patterns.spade(raster, bin_ms=3, n_surrogates=args.surrogates, workers=workers)
            times[workers].append(time.perf_counter() - start)
            found[workers] = sorted(p.neurons for p in result)
            print(f"{workers} worker(s): {times[workers][-1]:.1f} s, {len(result)} patterns", flush=True)
    pattern = set(injected(args.neurons))
    median = {w: statistics.median(t) for w, t in times.items()}
    rows = [
        [
            workers,
            f"{median[workers]:.1f}",
            f"{median[1] / median[workers]:.2f}×",
            len(found[workers]),
            "yes" if all(set(n) <= pattern for n in found[workers]) else "no",
        ]
        for workers in (1, 2)
    ]
    report.write_benchmark(
        Path(args.out),
        f"SPADE on {args.neurons} neurons x {args.seconds:g} s, {args.surrogates:,} surrogates, "
        f"medians of {args.repeats} interleaved repeats",
        "python benchmarks/pattern_cost.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        ["workers", "seconds", "speed-up", "patterns found", "all within the injected neurons"],
        rows,
        seconds={str(w): t for w, t in times.items()},
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
