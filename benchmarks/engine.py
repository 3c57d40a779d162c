"""Speed of one online e-prop step, numba kernels vs their numpy twins (issue: engine).

For (n_in, n_rec) in {(40, 100), (100, 256), (100, 1024)}, half the neurons ALIF, float32, inputs
Poisson at 40 Hz, prints steps/s of

* forward      — network step only (synaptic input, neurons, readout);
* e-prop acc.  — forward + trace engine + learning signal x eligibility accumulation;
* lazy acc.    — the same with ``lazy_decay`` (rows with psi = 0 deferred, settled once per
  200-step sequence as a per-trial update would read them); the fraction of rows that were
  silent is printed beside it;
* e-prop online— OnlineLearner.run_sequence with per-step SGD (folded into the trace sweep:
  the weights are the accumulator), MSE error at every step;

for the numba backend and the numpy twins, the ratios numba/numpy, and how many forward steps
one e-prop step costs (forward/acc., forward/lazy, forward/online).

    python benchmarks/engine.py [--seconds 1.5] [--sizes 40x100 100x256 100x1024] [--out FILE.json]

``--out`` also writes the numba rows as a benchmark result file (``locallearn report`` renders
it; the README's table comes from ``results/perf/engine.json``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import locallearn as ll


def _network(n_in: int, n_rec: int, backend: str) -> ll.Network:
    return ll.Network(
        ll.NetworkConfig(n_in=n_in, n_rec=n_rec, n_out=2, n_adaptive=n_rec // 2, backend=backend, seed=0)
    )


def _inputs(n_in: int, n_steps: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((n_steps, n_in)) < 0.04).astype(np.float32)


def _time(step, inputs: np.ndarray, seconds: float) -> float:
    """Steps per second of ``step(x)`` over at least ``seconds`` (after a warm-up)."""
    for x in inputs[:20]:
        step(x)
    n, start = 0, time.perf_counter()
    while True:
        for x in inputs:
            step(x)
        n += len(inputs)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def measure(n_in: int, n_rec: int, backend: str, seconds: float) -> dict:
    inputs = _inputs(n_in, 200)
    targets = np.zeros(2, np.float32)
    results = {}

    net = _network(n_in, n_rec, backend)
    results["forward"] = _time(net.step, inputs, seconds)

    net = _network(n_in, n_rec, backend)
    rule = ll.rules.make("eprop", feedback="random")
    rule.bind(net)

    def accumulate(x):
        y = net.step(x)
        rule.step(net, y - targets)

    results["accumulate"] = _time(accumulate, inputs, seconds)

    net = _network(n_in, n_rec, backend)
    lazy = ll.rules.make("eprop", feedback="random", lazy_decay=True)
    lazy.bind(net)
    silent = []

    def accumulate_lazily(x):
        y = net.step(x)
        lazy.step(net, y - targets)
        silent.append(np.count_nonzero(net.layers[-1].state.psi == 0))
        if len(silent) % len(inputs) == 0:
            lazy.gradients()  # settled once per sequence, where a per-trial update reads them

    results["lazy"] = _time(accumulate_lazily, inputs, seconds)
    results["silent"] = float(np.mean(silent)) / n_rec

    net = _network(n_in, n_rec, backend)
    learner = ll.OnlineLearner(net, ll.rules.make("eprop", feedback="random"), ll.SGD(lr=1e-5), update="step")
    sequence_targets = np.zeros((len(inputs), 2), np.float32)
    learner.run_sequence(inputs[:20], sequence_targets[:20])  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        learner.run_sequence(inputs, sequence_targets)
        n += len(inputs)
    results["online"] = n / (time.perf_counter() - start)
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--sizes", nargs="+", default=["40x100", "100x256", "100x1024"])
    parser.add_argument("--out", help="write the numba rows as a benchmark result file (JSON)")
    args = parser.parse_args(argv)
    table, raw = [], []
    print(f"steps/s, float32, 50% ALIF; {args.seconds:.1f} s per cell")
    header = (
        f"{'n_in x n_rec':>13} {'backend':>7} {'forward':>10} {'e-prop acc.':>12} {'lazy acc.':>10} "
        f"{'silent':>7} {'e-prop online':>14} {'fwd/acc':>8} {'fwd/lazy':>9} {'fwd/online':>11}"
    )
    print(header)
    speedups = []
    for size in args.sizes:
        n_in, n_rec = (int(v) for v in size.split("x"))
        rows = {b: measure(n_in, n_rec, b, args.seconds) for b in ("numba", "numpy")}
        for backend, r in rows.items():
            print(
                f"{size:>13} {backend:>7} {r['forward']:>10.0f} {r['accumulate']:>12.0f} {r['lazy']:>10.0f} "
                f"{r['silent']:>7.0%} {r['online']:>14.0f} {r['forward'] / r['accumulate']:>7.1f}x "
                f"{r['forward'] / r['lazy']:>8.1f}x {r['forward'] / r['online']:>10.1f}x"
            )
        r = rows["numba"]
        raw.append({"size": size, **{backend: rows[backend] for backend in rows}})
        table.append(
            [
                size,
                f"{r['forward']:,.0f}",
                f"{r['accumulate']:,.0f}",
                f"{r['lazy']:,.0f}",
                f"{r['silent']:.0%}",
                f"{r['forward'] / r['accumulate']:.1f}",
                f"{r['forward'] / r['lazy']:.1f}",
                f"{r['lazy'] / r['accumulate']:.2f}x",
            ]
        )
        speedups.append(
            (size, {k: rows["numba"][k] / rows["numpy"][k] for k in rows["numba"] if k != "silent"})
        )
    print("\nnumba / numpy speed-up")
    for size, s in speedups:
        print(
            f"{size:>13}  forward {s['forward']:.1f}x  e-prop acc. {s['accumulate']:.1f}x  "
            f"lazy acc. {s['lazy']:.1f}x  e-prop online {s['online']:.1f}x"
        )

    if args.out:
        from locallearn.report import write_benchmark

        write_benchmark(
            args.out,
            f"One online e-prop step (numba, float32, 50 % ALIF, Poisson inputs at 40 Hz, gradients "
            f"accumulated; {args.seconds:.1f} s per cell): steps/s, and how many forward steps one e-prop "
            "step costs, eager and with lazy decay",
            "python benchmarks/engine.py --seconds " + f"{args.seconds:g} --out {args.out}",
            [
                "n_in x n_rec",
                "forward, steps/s",
                "e-prop, steps/s",
                "e-prop lazy, steps/s",
                "rows silent",
                "e-prop / forward",
                "lazy / forward",
                "lazy speed-up",
            ],
            table,
            raw=raw,
        )
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
