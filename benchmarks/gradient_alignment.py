"""How close is each e-prop feedback mode to the exact gradient? (issue: engine)

On a small evidence-accumulation problem (40 inputs, 10 LIF + 10 ALIF, 3 cues, 800 ms trials,
float64), sums each rule's gradient estimate over a batch of trials and prints its cosine with the
exact BPTT gradient (all paths) and with the BPTT gradient of e-prop's own model (spikes constant
where they enter a membrane), for the hidden weights (w_in, w_rec) and for all weights.

With ``--train N`` it then trains each mode on the full evidence task (the task's defaults:
50 LIF + 50 ALIF, per-trial Adam) for N trials with ``training.gradient_check`` on, and prints the
cosine of each mode's estimate with exact BPTT (hidden weights, one fixed held-out trial) at every
evaluation — how the alignment changes as the network and any learned feedback change.

    python benchmarks/gradient_alignment.py [--trials 16] [--seeds 0 1 2] [--train 600]
"""

from __future__ import annotations

import argparse
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import locallearn as ll
from locallearn.stats import summarize

FEEDBACK_MODES = ("symmetric", "random", "direct", "adaptive")
HIDDEN = ("w_in", "w_rec")
ALL = ("w_in", "w_rec", "w_out")


def problem(seed: int = 0, n_trials: int = 16):
    """A network and a batch of evidence-accumulation trials (deterministic in ``seed``)."""
    task = ll.tasks.make("evidence", n_cues=3, seq_len=800)
    config = ll.NetworkConfig(
        n_in=task.n_in,
        n_rec=20,
        n_out=task.n_out,
        n_adaptive=10,
        tau_adapt=500.0,
        beta=0.05,
        dtype="float64",
        seed=seed,
    )
    rng = np.random.default_rng([seed, 7])
    return ll.Network(config), task, [task.trial(rng) for _ in range(n_trials)]


def _summed(gradients: list[dict]) -> dict:
    return {key: sum(g[key] for g in gradients) for key in ALL}


def exact_gradients(seed: int = 0, n_trials: int = 16) -> tuple[dict, dict]:
    """Batch-summed BPTT gradients: all paths, and e-prop's model (spikes constant into membranes)."""
    net, task, trials = problem(seed, n_trials)
    exact, eprop_model = [], []
    for trial in trials:
        kwargs = dict(loss=task.loss, mask=trial.mask)
        exact.append(ll.reference.bptt_gradients(net, trial.inputs, trial.targets, **kwargs))
        eprop_model.append(
            ll.reference.bptt_gradients(
                net, trial.inputs, trial.targets, detach=("recurrent", "reset"), **kwargs
            )
        )
    return _summed(exact), _summed(eprop_model)


def measure(feedback: str, seed: int = 0, n_trials: int = 16, exact=None) -> dict:
    """Cosines of ``feedback``-mode e-prop with BPTT on the problem for ``seed``."""
    net, task, trials = problem(seed, n_trials)
    exact, eprop_model = exact or exact_gradients(seed, n_trials)
    rule = ll.rules.make("eprop", feedback=feedback)
    estimate = _summed(
        [
            ll.gradient_estimate(net, rule, trial.inputs, trial.targets, loss=task.loss, mask=trial.mask)
            for trial in trials
        ]
    )
    cos = ll.metrics.gradient_cosine
    return {
        "hidden_vs_bptt": cos(estimate, exact, HIDDEN),
        "all_vs_bptt": cos(estimate, exact, ALL),
        "hidden_vs_eprop_model": cos(estimate, eprop_model, HIDDEN),
    }


def cosine_over_training(feedback: str, n_trials: int, seed: int, out: Path) -> list:
    """(trial, accuracy, grad_cosine) at every evaluation of an evidence run with ``feedback``."""
    from locallearn import io
    from locallearn.runs import run_supervised

    run_dir = out / f"evidence-{feedback}-seed{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    config = {
        "task": "evidence",
        "seed": seed,
        "rule": {"name": "eprop", "feedback": feedback},
        "training": {
            "n_trials": n_trials,
            "eval_every": max(n_trials // 6, 1),
            "validation_trials": 32,
            "test_trials": 32,
            "target": None,
            "gradient_check": True,
        },
    }
    run_supervised(config, run_dir, progress=False)
    return [
        (r["trial"], r["accuracy"], r["grad_cosine"])
        for r in io.read_jsonl(run_dir / "metrics.jsonl")
        if r["kind"] == "eval"
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--train", type=int, default=0, help="also train each mode this many trials, logging the cosine"
    )
    parser.add_argument("--out", default="runs/gradient_alignment")
    args = parser.parse_args(argv)
    print(f"cosine with exact BPTT, mean ± sd [95 % CI] over seeds {args.seeds}, {args.trials} trials each")
    print(f"{'feedback':<10} {'hidden vs BPTT':>16} {'all vs BPTT':>14} {'hidden vs e-prop model':>24}")
    exact = {seed: exact_gradients(seed, args.trials) for seed in args.seeds}
    for feedback in FEEDBACK_MODES:
        rows = [measure(feedback, seed, args.trials, exact[seed]) for seed in args.seeds]
        cells = []
        for key in ("hidden_vs_bptt", "all_vs_bptt", "hidden_vs_eprop_model"):
            values = np.array([r[key] for r in rows])
            cells.append(summarize(values).text())
        print(f"{feedback:<10} {cells[0]:>16} {cells[1]:>14} {cells[2]:>24}")
    if not args.train:
        return
    print(
        f"\nover training (evidence, 100 neurons, seed {args.seeds[0]}): "
        "trial: accuracy / cosine(hidden estimate, BPTT)"
    )
    with ProcessPoolExecutor(2) as pool:
        futures = {
            f: pool.submit(cosine_over_training, f, args.train, args.seeds[0], Path(args.out))
            for f in FEEDBACK_MODES
        }
        for feedback, future in futures.items():
            cells = "  ".join(f"{t}: {a:.2f}/{c:+.2f}" for t, a, c in future.result())
            print(f"{feedback:<10} {cells}")


if __name__ == "__main__":
    main()
