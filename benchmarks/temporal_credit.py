"""The temporal-credit table (issue 20), part one: how close each truncation of RTRL comes to the
exact gradient of a recurrent spiking layer.

For each of ``--networks`` random networks (evidence accumulation: 40 inputs, 10 LIF + 10 ALIF,
3 cues, 800 ms trials, float64; network and trial drawn from the seed; recurrent connections kept
with probability ``--density`` = 0.2 — on a dense layer SnAp-2 *is* RTRL) every rule's gradient
estimate with **symmetric** feedback (B = W_out^T: the truncation in time is what is compared,
not the feedback) is compared with the exact BPTT gradient (every path: recurrent spikes, reset,
adaptation): cosine over the hidden weights (w_in, w_rec), mean and 95 % t-interval over the
networks. Rules: exact RTRL (a check of the table itself: 1), e-prop, SnAp-1 (= D-RTRL here),
SnAp-2, and UORO (a single estimate per network: unbiased, but of high variance). The same
rules' cosines with the gradient of their own model (BPTT with recurrent spikes held constant,
which SnAp-1 computes exactly) are given beside.

    python benchmarks/temporal_credit.py --cosines [--networks 20] [--workers 2]

writes ``results/temporal-credit/cosines.json`` (rendered by ``locallearn report``).

Part two, ``--costs``: microseconds per online step (``net.step`` + the rule's step with a
learning signal; float32, one process) and the bytes of state the rule keeps besides the weights,
at n_rec = 64, 256 and 1,024 (40 inputs, half ALIF, dense recurrence); the exact references
(BPTT by the adjoint, whose state grows with the sequence: given for T = 1,000; dense RTRL) in
float64, time per step amortised over a sequence. Where a rule's state would not fit in this
machine's memory the row says what it would need. Run it on a quiet machine.

    python benchmarks/temporal_credit.py --costs [--sizes 64,256,1024]

writes ``results/temporal-credit/costs.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import locallearn as ll
from locallearn.report import write_benchmark
from locallearn.stats import summarize

HIDDEN = ("w_in", "w_rec")
RULES = {
    "RTRL (exact)": None,
    "e-prop": ("eprop", {}),
    "SnAp-1 = D-RTRL": ("snap", {"n": 1}),
    "SnAp-2": ("snap", {"n": 2}),
    "UORO (one estimate)": ("uoro", {}),
}
OUT = Path("results/temporal-credit/cosines.json")
COSTS_OUT = Path("results/temporal-credit/costs.json")
ONLINE = {"e-prop": ("eprop", {}), "SnAp-1 = D-RTRL": ("snap", {"n": 1}), "UORO": ("uoro", {}),
          "SnAp-2": ("snap", {"n": 2, "max_bytes": 2**34})}  # fmt: skip
N_IN, T_BPTT = 40, 1000


def problem(seed: int, density: float):
    task = ll.tasks.make("evidence", n_cues=3, seq_len=800)
    config = ll.NetworkConfig(
        n_in=task.n_in, n_rec=20, n_out=task.n_out, n_adaptive=10, tau_adapt=500.0, beta=0.05,
        dtype="float64", seed=seed,
    )  # fmt: skip
    net = ll.Network(config)
    rng = np.random.default_rng([seed, 20])
    w_rec = net.params["w_rec"]
    w_rec[rng.random(w_rec.shape) >= density] = 0.0  # structural zeros (weights stay frozen here)
    return net, task, task.trial(rng)


def cosines(seed: int, density: float = 0.2) -> dict[str, tuple[float, float]]:
    """Per rule: (cosine with exact BPTT, cosine with BPTT holding recurrent spikes constant)."""
    net, task, trial = problem(seed, density)
    kwargs = dict(loss=task.loss, mask=trial.mask)
    exact = ll.reference.bptt_gradients(net, trial.inputs, trial.targets, **kwargs)
    own = ll.reference.bptt_gradients(net, trial.inputs, trial.targets, detach=("recurrent",), **kwargs)
    result = {}
    for label, spec in RULES.items():
        if spec is None:
            estimate = ll.reference.rtrl_gradients(net, trial.inputs, trial.targets, **kwargs)
        else:
            rule = ll.rules.make(spec[0], feedback="symmetric", **spec[1])
            estimate = ll.gradient_estimate(net, rule, trial.inputs, trial.targets, **kwargs)
        result[label] = (
            ll.metrics.gradient_cosine(estimate, exact, keys=HIDDEN),
            ll.metrics.gradient_cosine(estimate, own, keys=HIDDEN),
        )
    return result


def _network(n: int, dtype: str) -> ll.Network:
    config = ll.NetworkConfig(n_in=N_IN, n_rec=n, n_out=2, n_adaptive=n // 2, dtype=dtype, seed=n)
    return ll.Network(config)


def _state_bytes(rule) -> int:
    """Bytes of every array the rule keeps, the network's own weights and state excluded."""
    from locallearn.runs.checkpoint import capture

    arrays, _ = capture({"rule": rule})
    return sum(a.nbytes for path, a in arrays.items() if not path.startswith("rule/net/"))


def _influence_bytes(label: str, n: int) -> int:
    """What a rule's state needs before it is built (SnAp-2 and dense RTRL grow as n^2 * n_pre)."""
    synapses = n * (N_IN + n)
    return {"SnAp-2": 4 * n * synapses * 8, "RTRL (exact, reference)": 4 * n * n * max(N_IN, n) * 8}.get(
        label, 0
    )


def costs(n: int, label: str, steps: int, memory: int) -> tuple[float | None, int]:
    """(microseconds per step or None when it would not fit, state bytes)."""
    need = _influence_bytes(label, n)
    if need > memory // 2:
        return None, need
    rng = np.random.default_rng(n)
    if label in ONLINE:
        net = _network(n, "float32")
        name, options = ONLINE[label]
        rule = ll.rules.make(name, feedback="random", **options)
        rule.bind(net)
        inputs = (rng.random((steps + 5, N_IN)) < 0.05).astype(net.dtype)
        errors = rng.standard_normal((steps + 5, 2)).astype(net.dtype)
        for t in range(5):  # compile and warm up
            net.step(inputs[t])
            rule.step(net, errors[t])
        start = time.perf_counter()
        for t in range(5, steps + 5):
            net.step(inputs[t])
            rule.step(net, errors[t])
        return (time.perf_counter() - start) / steps * 1e6, _state_bytes(rule)
    net = _network(n, "float64")
    length = T_BPTT if label.startswith("BPTT") else steps
    inputs = (rng.random((length, N_IN)) < 0.05).astype(float)
    targets = rng.standard_normal((length, 2))
    exact = ll.reference.bptt_gradients if label.startswith("BPTT") else ll.reference.rtrl_gradients
    start = time.perf_counter()
    exact(net, inputs, targets)
    seconds = time.perf_counter() - start
    trajectory = 4 * length * n * 8  # v, a, z, psi of every step, kept for the backward pass
    return seconds / length * 1e6, trajectory if label.startswith("BPTT") else need


def _bytes(count: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count} B"


def measure_costs(sizes: list[int], steps: int) -> list[list[str]]:
    import os

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    labels = [*ONLINE, "BPTT (exact, reference)", "RTRL (exact, reference)"]
    rows = []
    for label in labels:
        row = [label]
        for n in sizes:
            micros, state = costs(n, label, steps if label != "SnAp-2" or n <= 64 else 5, memory)
            row.append(
                f"not run: needs {_bytes(state)}" if micros is None else f"{micros:,.0f} µs, {_bytes(state)}"
            )
            print(f"{label:>26} n={n}: {row[-1]}", flush=True)
        rows.append(row)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cosines", action="store_true", help="the cosine table")
    parser.add_argument("--costs", action="store_true", help="time per step and state bytes")
    parser.add_argument("--sizes", default="64,256,1024", help="n_rec values for --costs")
    parser.add_argument("--steps", type=int, default=200, help="timed online steps per cell (--costs)")
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--density", type=float, default=0.2, help="recurrent connection probability")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    if args.costs:
        sizes = [int(n) for n in args.sizes.split(",")]
        rows = measure_costs(sizes, args.steps)
        command = "python benchmarks/temporal_credit.py --costs"
        command += f" --sizes {args.sizes}" if args.sizes != "64,256,1024" else ""
        out = args.out if args.out != str(OUT) else str(COSTS_OUT)
        write_benchmark(
            out,
            title=(
                "**Cost per online step and state kept**, by n_rec (40 inputs, half ALIF, dense "
                "recurrence; online rules float32 with random feedback, references float64 and "
                f"amortised over a sequence; BPTT's state is for T = {T_BPTT:,} steps)"
            ),
            command=command,
            columns=["rule", *[f"n_rec = {n:,}" for n in sizes]],
            rows=rows,
        )
        print(f"wrote {out}", file=sys.stderr)
        return
    if not args.cosines:
        parser.error("choose a part: --cosines or --costs")
    seeds = list(range(args.networks))
    densities = [args.density] * len(seeds)
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            per_network = list(pool.map(cosines, seeds, densities))
    else:
        per_network = list(map(cosines, seeds, densities))
    rows = []
    for label in RULES:
        exact = [r[label][0] for r in per_network]
        own = [r[label][1] for r in per_network]
        rows.append([label, summarize(exact).text(3), summarize(own).text(3)])
        print(f"{label:>18}: {rows[-1][1]}   (own model: {rows[-1][2]})")
    command = "python benchmarks/temporal_credit.py --cosines"
    command += f" --networks {args.networks}" if args.networks != 20 else ""
    command += f" --density {args.density}" if args.density != 0.2 else ""
    write_benchmark(
        args.out,
        title=(
            f"**Cosine with the exact gradient** (hidden weights; {args.networks} random evidence-"
            f"accumulation networks of 10 LIF + 10 ALIF, recurrent density {args.density}, one 800 ms "
            "trial each, symmetric feedback), mean ± std [95 % CI] (n)"
        ),
        command=command,
        columns=["rule", "cosine with exact BPTT", "cosine with BPTT, recurrent spikes held constant"],
        rows=rows,
        per_network={label: [r[label] for r in per_network] for label in RULES},
        seeds=seeds,
        density=args.density,
    )
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
