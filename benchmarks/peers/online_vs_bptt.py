"""What online learning buys: e-prop here against BPTT in PyTorch (``torch_bptt.py``, the same
network, checked equal), on evidence accumulation (100 neurons, 50 ALIF, 40 inputs — the task's
e-prop configuration).

``--cost``: time and peak memory per training trial against the trial length T, interleaved
(for each repeat, every T, every system in turn), each measurement in its own process so that
its peak resident memory is its own. Systems: ``bptt`` (torch autograd: forward, backward and an
Adam step per trial, float32, batch 1), ``eprop-online`` (ours, update every step: traces per
synapse, memory independent of T), ``eprop-trial`` (ours, one update per trial through the
factored whole-trial path: O(T n) memory). The first trial (JIT compilation, torch warm-up) is
timed apart and excluded; the figure is the median of ``--trials`` trials; thread counts are
set equal (``--threads``) for BLAS, numba and torch.

``--accuracy``: BPTT trained as our e-prop runs are (the same training, validation and test
trial streams of the same seeds; Adam, lr 1e-3 decayed by 0.8 every 300 trials; validation on
256 trials every 100; stop at the target 0.93 or after 3,000 trials; 1,024 fresh test trials
for the figure), so its accuracy and trial count sit beside ``results/evidence``. One difference
is kept and named: our e-prop runs add the firing-rate regulariser (c_reg = 1); the BPTT peer
minimises the cross-entropy alone, as a user of BPTT would.

    python benchmarks/peers/online_vs_bptt.py --cost [--lengths 1250,2250,4500,9000] [--repeats 5]
    python benchmarks/peers/online_vs_bptt.py --accuracy --seeds 0-4
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NETWORK = {"n_rec": 100, "n_adaptive": 50, "tau_adapt": 2000.0, "n_in": 40, "n_out": 2}
SYSTEMS = ("bptt", "eprop-online", "eprop-trial")


def _threads_env(threads: int) -> dict:
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    return {**os.environ, **{name: str(threads) for name in names}}


def _task(seq_len: int):
    from locallearn import tasks

    return tasks.make("evidence", seq_len=seq_len)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(system: str, seq_len: int, n_trials: int, threads: int, seed: int = 0) -> dict:
    """Seconds per training trial (first trial apart) and peak memory, in this process."""
    from locallearn import streams

    task = _task(seq_len)
    rng = streams.generator(seed, "train")
    trials = [task.trial(rng) for _ in range(n_trials + 1)]
    baseline = _peak_mb()
    if system == "bptt":
        import torch

        torch.set_num_threads(threads)
        learner = _BPTTLearner(seed, torch.float32)
        step = learner.learn
    else:
        learner = _ours(seed, "step" if system == "eprop-online" else "trial")

        def step(trial):
            learner.run_sequence(trial.inputs, trial.targets, trial.mask)

    seconds = []
    for trial in trials:
        start = time.perf_counter()
        step(trial)
        seconds.append(time.perf_counter() - start)
    return {
        "system": system,
        "T": seq_len,
        "first_trial_s": seconds[0],
        "seconds_per_trial": statistics.median(seconds[1:]),
        "peak_mb": _peak_mb(),
        "baseline_mb": baseline,
    }


def _ours(seed: int, update: str):
    import locallearn as ll
    from locallearn.optim import Adam
    from locallearn.runner import OnlineLearner

    net = ll.Network(ll.NetworkConfig(**NETWORK, seed=seed))
    rule = ll.rules.make("eprop", feedback="random", c_reg=1.0)
    return OnlineLearner(net, rule, Adam(lr=1e-3), loss="ce", update=update)


class _BPTTLearner:
    """BPTT with Adam on one trial at a time, initialised with our network's weights."""

    def __init__(self, seed: int, dtype, lr: float = 1e-3):
        import torch

        import locallearn as ll

        sys.path.insert(0, str(HERE))
        from torch_bptt import TorchNetwork

        self.torch = torch
        self.net = TorchNetwork.from_locallearn(ll.Network(ll.NetworkConfig(**NETWORK, seed=seed)), dtype)
        self.dtype = dtype
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.eye = np.eye(NETWORK["n_out"])

    def _tensors(self, trial):
        torch = self.torch
        targets = trial.targets if trial.targets.ndim == 2 else self.eye[trial.targets]
        return (
            torch.as_tensor(trial.inputs[None], dtype=self.dtype),
            torch.as_tensor(targets[None], dtype=self.dtype),
            torch.as_tensor(trial.mask[None], dtype=self.dtype),
        )

    def learn(self, trial) -> float:
        x, t, m = self._tensors(trial)
        self.optimizer.zero_grad()
        y, _ = self.net(x)
        loss = self.net.sequence_loss(y, t, m, "ce")
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def outputs(self, trial) -> np.ndarray:
        with self.torch.no_grad():
            y, _ = self.net(self._tensors(trial)[0])
        return y[0].numpy()


def cost(args) -> dict:
    rows = []
    for repeat in range(args.repeats):
        for seq_len in args.lengths:
            for system in SYSTEMS:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--one",
                        system,
                        str(seq_len),
                        str(args.trials),
                        str(args.threads),
                    ],
                    capture_output=True,
                    text=True,
                    env=_threads_env(args.threads),
                    check=True,
                )
                row = json.loads(out.stdout.strip().splitlines()[-1]) | {"repeat": repeat}
                rows.append(row)
                print(
                    f"repeat {repeat}: T={seq_len:>5} {system:<13} "
                    f"{row['seconds_per_trial'] * 1e3:8.1f} ms/trial, "
                    f"peak {row['peak_mb']:.0f} MB (first trial {row['first_trial_s']:.1f} s)",
                    flush=True,
                )
    summary = []
    for seq_len in args.lengths:
        for system in SYSTEMS:
            cell = [r for r in rows if r["T"] == seq_len and r["system"] == system]
            summary.append(
                {
                    "T": seq_len,
                    "system": system,
                    "ms_per_trial": 1e3 * statistics.median(r["seconds_per_trial"] for r in cell),
                    "peak_mb": statistics.median(r["peak_mb"] for r in cell),
                    "peak_above_baseline_mb": statistics.median(
                        r["peak_mb"] - r["baseline_mb"] for r in cell
                    ),
                }
            )
    return {"rows": rows, "summary": summary}


def _megabytes(value: float) -> str:
    return f"{value:.0f}" if value >= 1 else "< 1"  # peak RSS moves in pages; below 1 MB is noise


def cost_table(result: dict) -> dict:
    """The README's table of a --cost result (``locallearn report`` renders it)."""
    summary = result["cost"]["summary"]
    lengths = sorted({row["T"] for row in summary})
    cell = {(row["T"], row["system"]): row for row in summary}
    rows = []
    for seq_len in lengths:
        bptt, online, trial = (cell[(seq_len, s)] for s in ("bptt", "eprop-online", "eprop-trial"))
        rows.append(
            [
                f"{seq_len:,}",
                f"{bptt['ms_per_trial']:.0f}",
                f"{online['ms_per_trial']:.0f}",
                f"{trial['ms_per_trial']:.1f}",
                _megabytes(bptt["peak_above_baseline_mb"]),
                _megabytes(max(online["peak_above_baseline_mb"], trial["peak_above_baseline_mb"])),
            ]
        )
    repeats = 1 + max(row["repeat"] for row in result["cost"]["rows"])
    return {
        "title": f"Training cost per evidence-accumulation trial against its length T: BPTT in PyTorch "
        f"{result['torch']} (autograd, Adam per trial) vs e-prop here, {result['threads']} threads each, "
        f"medians of {repeats} interleaved repeats, one process per measurement",
        "columns": [
            "T (steps)",
            "BPTT, ms/trial",
            "e-prop online (Adam every step), ms/trial",
            "e-prop per trial (factored), ms/trial",
            "BPTT peak memory above start-up, MB",
            "e-prop peak memory above start-up, MB",
        ],
        "rows": rows,
    }


def accuracy(args) -> dict:
    import torch

    from locallearn import streams

    torch.set_num_threads(args.threads)
    task = _task(2250)
    results = []
    for seed in args.seeds:
        learner = _BPTTLearner(seed, torch.float32)
        schedule = torch.optim.lr_scheduler.StepLR(learner.optimizer, step_size=300, gamma=0.8)
        train = streams.generator(seed, "train")
        rng = streams.generator(seed, "validation")
        validation = [task.trial(rng) for _ in range(256)]
        curve, trained, start = [], 0, time.perf_counter()
        while trained < args.max_trials:
            learner.learn(task.trial(train))
            schedule.step()
            trained += 1
            if trained % 100 == 0:
                value = float(np.mean([task.score(learner.outputs(t), t) for t in validation]))
                curve.append([trained, value])
                print(f"seed {seed}: {trained} trials, validation accuracy {value:.3f}", flush=True)
                if value >= args.target:
                    break
        rng = streams.generator(seed, "test")
        test = [task.trial(rng) for _ in range(1024)]
        value = float(np.mean([task.score(learner.outputs(t), t) for t in test]))
        results.append(
            {
                "seed": seed,
                "trials": trained,
                "test_accuracy": value,
                "validation_curve": curve,
                "wall_seconds": time.perf_counter() - start,
            }
        )
        print(f"seed {seed}: test accuracy {value:.4f} after {trained} trials", flush=True)
    return {"results": results}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cost", action="store_true")
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument(
        "--one", nargs=4, metavar=("SYSTEM", "T", "TRIALS", "THREADS"), help=argparse.SUPPRESS
    )
    parser.add_argument("--lengths", default="1250,2250,4500,9000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trials", type=int, default=5, help="timed trials per measurement")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--max-trials", type=int, default=3000)
    parser.add_argument("--target", type=float, default=0.93)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.one:
        system, seq_len, n_trials, threads = args.one
        print(json.dumps(measure(system, int(seq_len), int(n_trials), int(threads))))
        return
    from locallearn.sweep import parse_seeds

    args.lengths = [int(v) for v in args.lengths.split(",")]
    args.seeds = parse_seeds(args.seeds)
    if not (args.cost or args.accuracy):
        parser.error("choose --cost and/or --accuracy")
    result = {
        "command": "python benchmarks/peers/online_vs_bptt.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "threads": args.threads,
        "network": NETWORK,
    }
    import torch

    result["torch"] = torch.__version__
    if args.cost:
        result["cost"] = cost(args)
        result["table"] = cost_table(result)
    if args.accuracy:
        result["accuracy"] = accuracy(args)
    out = Path(
        args.out or ("results/perf/online_vs_bptt.json" if args.cost else "results/evidence/bptt_torch.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
