"""Run committed result runs again from their own config.json and check that they come out
bit for bit the same (weights, every metrics row but wall times, the reported value).

    python benchmarks/regenerate.py results/evidence/evidence-eprop-random-seed1 [RUN_DIR ...]

Each run is repeated in a temporary folder (two at a time); the script prints one line per run
and exits 1 if any differs. This is how "numbers regenerate" is checked for the tables of the
README without spending the whole budget again: pick short cells of each result directory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from locallearn import io, runs


def _rows(run_dir: Path) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k != "wall_seconds"} for r in io.read_jsonl(run_dir / "metrics.jsonl")
    ]


def regenerate(run_dir: str, scratch: str) -> tuple[str, bool, str]:
    run_dir = Path(run_dir)
    config = io.read_json(run_dir / "config.json")
    again = Path(scratch) / run_dir.name
    summary = runs.execute(config, again, progress=False)
    with np.load(run_dir / "weights.npz") as a, np.load(again / "weights.npz") as b:
        same_weights = set(a.files) == set(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)
    same_rows = _rows(run_dir) == _rows(again)
    same_value = summary["value"] == io.read_json(run_dir / "summary.json")["value"]
    ok = same_weights and same_rows and same_value
    detail = (
        f"weights {'=' if same_weights else '≠'}, rows {'=' if same_rows else '≠'}, value {summary['value']}"
    )
    return str(run_dir), ok, detail


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch, ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(regenerate, args.run_dirs, [scratch] * len(args.run_dirs)))
    for run_dir, ok, detail in results:
        print(f"{'same' if ok else 'DIFFERENT'}: {run_dir} ({detail})")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
