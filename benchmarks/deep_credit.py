"""Deep credit assignment on a 2-hidden-layer spiking network (issue: deep credit assignment).

Task ``yinyang`` (Kriener et al. 2021: a linear classifier reaches ~64 %, a deep one ~98 %), a
stack of two feed-forward layers of 64 LIF neurons, per-trial Adam updates, 4,000 trials, three
seeds per method. Methods differ only in how the hidden layers receive their learning signal:

    readout only   feedback "none": B = 0, only w_out learns (what depth adds is measured against it)
    exact (BP)     e-prop, B_l = W_{l+1}^T (weight transport)
    FA             e-prop, fixed random B_l
    DFA            e-prop, every layer gets the output error through its own fixed random D_l
    KP             e-prop, Kolen-Pollack B_l (same update as W^T, both decay)
    SAL            e-prop, B_l learned by spike-based alignment learning (200k-step noise-driven
                   warm-up per pathway, then 100 SAL steps after every update)
    trace-BP       trace-based backprop, B_l = W^T

Prints final held-out accuracy (1,000 trials) mean ± sd [95 % CI] over seeds, the final angle between each
B_l and W_{l+1}^T (w_in_1: between the hidden layers; w_out: into the top layer), the angle
between the learning signal layer 0 receives and the backpropagated one (DFA's D_0 err against
W_1^T (L_1 * psi_1)), the cosine of the hidden-weight estimate with exact BPTT (both on one fixed
held-out trial, ``training.gradient_check``), wall time; writes
results.json, results.md and alignment.png (angle vs trial, mean over seeds) to --out.

    python benchmarks/deep_credit.py [--seeds 0 1 2] [--only SAL FA] [--trials 4000] [--out runs/deep]
"""

from __future__ import annotations

import argparse
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from locallearn import io
from locallearn.analysis import plt
from locallearn.runs import run_supervised
from locallearn.stats import summarize

METHODS = {
    "readout only": {"name": "eprop", "feedback": "none"},
    "exact (BP)": {"name": "eprop", "feedback": "symmetric"},
    "FA": {"name": "eprop", "feedback": "random"},
    "DFA": {"name": "eprop", "feedback": "direct"},
    "KP": {"name": "eprop", "feedback": "adaptive", "feedback_options": {"decay": 1e-3}},
    "SAL": {"name": "eprop", "feedback": "sal"},
    "trace-BP": {"name": "trace-bp", "feedback": "symmetric"},
}


def run_cell(method: str, seed: int, trials: int, out: Path) -> dict:
    run_dir = out / f"{method.replace(' ', '_').replace('(', '').replace(')', '')}-seed{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    config = {
        "task": "yinyang",
        "rule": dict(METHODS[method]),
        "seed": seed,
        "training": {"n_trials": trials, "gradient_check": True},
    }
    summary = run_supervised(config, run_dir, progress=False)
    rows = io.read_jsonl(run_dir / "metrics.jsonl")
    summary["angles"] = {k: v for k, v in rows[-1].items() if k.startswith("angle/")}
    summary["signal_angle"] = rows[-1].get("signal_angle/0")
    summary["grad_cosine"] = rows[-1].get("grad_cosine")
    summary["curve"] = [(r["trial"], {k: v for k, v in r.items() if k.startswith("angle/")}) for r in rows]
    summary["run_dir"] = str(run_dir)
    return summary


def replot(out: Path, methods, seeds) -> None:
    """Redraw alignment.png from an earlier run's results.json."""
    stored = io.read_json(out / "results.json")
    results = {(m, s): stored[f"{m}/{s}"] for m in methods for s in seeds}
    plot(results, methods, seeds, out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--trials", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/deep")
    args = parser.parse_args(argv)
    out = Path(args.out)
    cells = [(m, s) for m in args.only for s in args.seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {cell: pool.submit(run_cell, *cell, args.trials, out) for cell in cells}
        results = {cell: future.result() for cell, future in futures.items()}
    lines = [
        "| method | accuracy (mean ± sample std [95 % CI] (n)) | per seed | angle B_0 vs W_1^T (deg) | "
        "angle B_1 vs W_out^T (deg) | layer-0 signal vs backprop (deg) | "
        "cosine with BPTT | wall s (max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print(
        f"{'method':<13} {'accuracy':>16} {'per seed':>20} {'angle w_in_1':>13} "
        f"{'angle w_out':>12} {'signal angle':>13} {'cos BPTT':>9} {'wall s':>7}"
    )
    for method in args.only:
        rows = [results[(method, s)] for s in args.seeds]
        acc = np.array([r["value"] for r in rows])
        angles = {}
        for key in ("angle/w_in_1", "angle/w_out"):
            values = [r["angles"][key] for r in rows if key in r["angles"]]
            angles[key] = summarize(values).text(1) if values else "—"
        wall = max(r["wall_seconds"] for r in rows)
        per_seed = " ".join(f"{a:.3f}" for a in acc)
        finite = lambda v: v is not None and np.isfinite(v)  # noqa: E731 (no signal: undefined)
        signal = [r["signal_angle"] for r in rows if finite(r.get("signal_angle"))]
        signal = summarize(signal).text(1) if signal else "—"
        cos = [r["grad_cosine"] for r in rows if finite(r.get("grad_cosine"))]
        cos = summarize(cos).text(2) if cos else "—"
        print(
            f"{method:<13} {summarize(acc).text():>36} {per_seed:>20} "
            f"{angles['angle/w_in_1']:>13} {angles['angle/w_out']:>12} {signal:>13} "
            f"{cos:>9} {wall:>7.0f}"
        )
        lines.append(
            f"| {method} | {summarize(acc).text()} | {per_seed} | "
            f"{angles['angle/w_in_1']} | {angles['angle/w_out']} | {signal} | {cos} | "
            f"{wall:.0f} |"
        )
    out.mkdir(parents=True, exist_ok=True)
    io.write_text(out / "results.md", "\n".join(lines) + "\n")
    io.write_json(out / "results.json", {f"{m}/{s}": v for (m, s), v in results.items()})
    plot(results, args.only, args.seeds, out)
    return 0


def plot(results: dict, methods, seeds, out: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    colors = {m: f"C{i}" for i, m in enumerate(METHODS)}  # one colour per method in both panels
    for ax, key in zip(axes, ("angle/w_in_1", "angle/w_out")):
        for method in methods:
            curves = [[row.get(key) for _, row in results[(method, s)]["curve"]] for s in seeds]
            if any(v is None for c in curves for v in c):
                continue
            trials = [t for t, _ in results[(method, seeds[0])]["curve"]]
            ax.plot(trials, np.mean(curves, axis=0), label=method, color=colors[method])
        ax.set_title(f"{key[6:]}: angle(B, W^T), mean of {len(seeds)} seeds")
        ax.set_xlabel("trial")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("degrees")
    fig.tight_layout()
    fig.savefig(out / "alignment.png", dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
