"""The e-prop paper's supervised results, end to end, with the metric printed against its target.

Runs (each an ordinary run directory under --out, two at a time):

    evidence-random      evidence accumulation, 50 LIF + 50 ALIF, e-prop random feedback: acc >= 0.93
    evidence-symmetric   the same with symmetric feedback:                                acc >= 0.93
    pattern-random       pattern generation, 100 LIF, random feedback:  final MSE <= 10 % of initial
    pattern-symmetric    the same with symmetric feedback
    store-recall-alif    store-recall with 50 LIF + 50 ALIF:                              acc >= 0.90
    store-recall-lif     control with 100 LIF only (expected to do clearly worse)

    python benchmarks/supervised.py [--only evidence-random ...] [--seed 0] [--out runs/supervised]
"""

from __future__ import annotations

import argparse
import json
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from locallearn import io
from locallearn.runs import run_supervised

EXPERIMENTS = {
    "evidence-random": (
        {"task": "evidence", "rule": {"name": "eprop", "feedback": "random"}},
        ("accuracy", ">=", 0.93),
    ),
    "evidence-symmetric": (
        {"task": "evidence", "rule": {"name": "eprop", "feedback": "symmetric"}},
        ("accuracy", ">=", 0.93),
    ),
    "pattern-random": (
        {"task": "pattern", "rule": {"name": "eprop", "feedback": "random"}},
        ("mse_ratio", "<=", 0.10),
    ),
    "pattern-symmetric": (
        {"task": "pattern", "rule": {"name": "eprop", "feedback": "symmetric"}},
        ("mse_ratio", "<=", 0.10),
    ),
    "store-recall-alif": (
        {"task": "store_recall", "rule": {"name": "eprop", "feedback": "random"}},
        ("accuracy", ">=", 0.90),
    ),
    "store-recall-lif": (
        {
            "task": "store_recall",
            "network": {"n_adaptive": 0},
            "rule": {"name": "eprop", "feedback": "random"},
            "training": {"target": None},
        },
        ("accuracy", "report", None),
    ),
}


def run_one(name: str, seed: int, out: Path) -> dict:
    config, _ = EXPERIMENTS[name]
    run_dir = out / f"{name}-seed{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    summary = run_supervised({**config, "seed": seed}, run_dir, progress=False)
    rows = io.read_jsonl(run_dir / "metrics.jsonl")
    if summary["metric"] == "mse":
        summary["initial_mse"] = rows[0]["mse"]
        summary["mse_ratio"] = summary["value"] / rows[0]["mse"]
    summary["run_dir"] = str(run_dir)
    return summary


def verdict(summary: dict, check) -> str:
    key, op, bound = check
    value = summary[key] if key in summary else summary["value"]
    if op == "report":
        return f"{key} {value:.3f} (control)"
    ok = value >= bound if op == ">=" else value <= bound
    return f"{key} {value:.4g} {op} {bound}: {'PASS' if ok else 'FAIL'}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(EXPERIMENTS), default=list(EXPERIMENTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/supervised")
    args = parser.parse_args(argv)
    out = Path(args.out)
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {name: pool.submit(run_one, name, args.seed, out) for name in args.only}
        results = {name: future.result() for name, future in futures.items()}
    print(f"{'experiment':<20} {'trials':>7} {'steps':>11} {'wall s':>7}  result")
    failed = 0
    for name, summary in results.items():
        line = verdict(summary, EXPERIMENTS[name][1])
        failed += "FAIL" in line
        print(
            f"{name:<20} {summary['trials']:>7} {summary['steps']:>11,} "
            f"{summary['wall_seconds']:>7.0f}  {line}  (on {summary['evaluated_on']} held-out)"
        )
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
