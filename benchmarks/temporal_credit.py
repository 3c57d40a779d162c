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
"""

from __future__ import annotations

import argparse
import sys
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cosines", action="store_true", help="the cosine table (the only part so far)")
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--density", type=float, default=0.2, help="recurrent connection probability")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    if not args.cosines:
        parser.error("choose a part: --cosines")
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
