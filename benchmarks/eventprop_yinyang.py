"""EventProp on Yin-Yang with a first-spike readout (issue 20): exact continuous-time gradients
(``eventprop.gradients(..., backend="numba")``), one hidden layer, Adam on mini-batches.

Data: Yin-Yang points (``tasks.yinyang``, classes balanced) from three disjoint streams of a seed
— training, validation (chooses nothing here but is reported per epoch), test (drawn once at the
end, the reported figure). Each point (x, y) is four input spikes at t_min + (t_max - t_min) u for
u in (x, y, 1 - x, 1 - y), plus a bias spike at ``t_bias``. The class is the output that fires
first (no output spike: wrong). Loss: EventProp's first-spike cross-entropy with the late-spike
penalty (``eventprop.EventNetwork.first_spike_loss``); an output that never fires passes no
gradient, so the initial weights are drawn to make hidden and output neurons fire. The network of
the epoch with the best validation accuracy is the one tested.

Stability: with Adam at a constant 5e-3 and hidden-to-output weights drawn N(0.9, 0.6), four of
five seeds collapsed after their best epoch (all outputs silent, validation accuracy 0.09-0.38,
never recovering; ``eventprop_yinyang.json``, seeds 6-10). The defaults now follow the settings of
a public EventProp Yin-Yang implementation (tnowotny/genn_eventprop): the learning rate decays by
``--lr-decay`` 0.95 per epoch and the output weights start N(``--w-out-mean`` 0.93,
``--w-out-std`` 0.1). A seed
whose last epoch's validation accuracy is below 0.5 is counted as collapsed. That still left two
of five seeds collapsed (seeds 11-15, ``eventprop_yinyang_decay.json``); on the validation curves
of those two seeds Adam at 2e-3 and 1e-3 did not collapse (1e-3 rising to its last epoch), so
``--lr`` is 1e-3, and the figure with it comes from fresh seeds (16-20,
``eventprop_yinyang_lr1e-3.json``).

    python benchmarks/eventprop_yinyang.py [--seeds 0-4] [--hidden 120] [--epochs 30]
        [--lr-decay 0.95] [--w-out-mean 0.93] [--w-out-std 0.1]
        [--out results/temporal-credit/eventprop_yinyang.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from locallearn import eventprop, report, stats, streams, tasks
from locallearn.optim import Adam
from locallearn.sweep import parse_seeds

DURATION, T_MIN, T_MAX, T_BIAS = 40.0, 2.0, 27.0, 2.0


def points(seed: int, stream: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` class-balanced Yin-Yang points (x, y) and labels from stream ``stream``."""
    task, rng = tasks.make("yinyang"), streams.generator(seed, stream)
    labels = np.arange(n) % 3
    rng.shuffle(labels)
    return np.array([task.sample(rng, int(label)) for label in labels]), labels


def encode(point) -> list[np.ndarray]:
    x, y = point
    features = (x, y, 1 - x, 1 - y)
    return [np.array([T_MIN + (T_MAX - T_MIN) * u]) for u in features] + [np.array([T_BIAS])]


def predict(net: eventprop.EventNetwork, point) -> int:
    first = eventprop.simulate(net, encode(point), DURATION, 0, backend="numba").readout
    return int(np.argmin(first)) if first.min() < DURATION else -1


def accuracy(net, data) -> float:
    xy, labels = data
    return float(np.mean([predict(net, p) == label for p, label in zip(xy, labels)]))


def train(
    seed: int,
    hidden: int = 120,
    epochs: int = 30,
    batch: int = 32,
    lr: float = 1e-3,
    n_train: int = 5000,
    n_test: int = 1000,
    loss: tuple = (0.5, 6.4, 3e-3),
    lr_decay: float = 0.95,
    w_out: tuple = (0.93, 0.1),
    progress=None,
) -> dict:
    rng = streams.generator(seed, "feedback")  # the weights' own stream (no feedback here)
    net = eventprop.EventNetwork(
        w_in=rng.normal(1.5, 0.8, (hidden, 5)),
        w_out=rng.normal(w_out[0], w_out[1], (3, hidden)),
        readout="first_spike",
        first_spike_loss=loss,
    )
    train_set, validation = points(seed, "train", n_train), points(seed, "validation", n_test)
    optimizer = Adam(lr=lr)
    params = {"w_in": net.w_in.copy(), "w_out": net.w_out.copy()}
    curve, best = [], None
    start = time.perf_counter()
    order_rng = np.random.default_rng([seed, 1])
    for epoch in range(epochs):
        optimizer.lr = lr * lr_decay**epoch
        order = order_rng.permutation(n_train)
        losses = []
        for first in range(0, n_train, batch):
            grads = {"w_in": np.zeros_like(params["w_in"]), "w_out": np.zeros_like(params["w_out"])}
            current = eventprop.EventNetwork(**{**_fields(net), **params})
            chosen = order[first : first + batch]
            for index in chosen:
                result = eventprop.gradients(
                    current, encode(train_set[0][index]), DURATION, int(train_set[1][index]), backend="numba"
                )
                grads["w_in"] += result["w_in"] / len(chosen)
                grads["w_out"] += result["w_out"] / len(chosen)
                losses.append(result["loss"])
            for name, delta in optimizer.step(params, grads).items():
                params[name] += delta
        # copies: the epoch's network must not follow the parameters as training goes on
        net = eventprop.EventNetwork(**{**_fields(net), **{k: v.copy() for k, v in params.items()}})
        curve.append(
            {"epoch": epoch + 1, "loss": float(np.mean(losses)), "validation": accuracy(net, validation)}
        )
        if best is None or curve[-1]["validation"] > best[0]:
            best = (curve[-1]["validation"], epoch + 1, net)
        if progress:
            progress(curve[-1])
    # the validation points choose the epoch (a network whose outputs fall silent gets no
    # gradient back: training can collapse late); the test points never choose anything
    _, chosen_epoch, net = best
    test = points(seed, "test", n_test)  # drawn now, once
    hits = [predict(net, p) == label for p, label in zip(*test)]
    interval = stats.per_trial([float(h) for h in hits])
    return {
        "seed": seed,
        "epoch": chosen_epoch,
        "validation_accuracy": best[0],
        "test_accuracy": interval.mean,
        "low": interval.low,
        "high": interval.high,
        "collapsed": curve[-1]["validation"] < 0.5,
        "curve": curve,
        "seconds": time.perf_counter() - start,
        "network": net,  # the network tested (left out of the result file)
    }


def _fields(net) -> dict:
    return {
        "w_in": net.w_in,
        "w_out": net.w_out,
        "readout": net.readout,
        "first_spike_loss": net.first_spike_loss,
        "tau_mem": net.tau_mem,
        "tau_syn": net.tau_syn,
        "theta": net.theta,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--hidden", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate at epoch 1")
    parser.add_argument("--lr-decay", type=float, default=0.95, help="learning rate factor per epoch")
    parser.add_argument("--w-out-mean", type=float, default=0.93, help="mean of the initial output weights")
    parser.add_argument("--w-out-std", type=float, default=0.1, help="std of the initial output weights")
    parser.add_argument("--out", default="results/temporal-credit/eventprop_yinyang.json")
    args = parser.parse_args(argv)
    runs = []
    for seed in parse_seeds(args.seeds):
        result = train(
            seed,
            args.hidden,
            args.epochs,
            n_train=args.train,
            n_test=args.test,
            lr=args.lr,
            lr_decay=args.lr_decay,
            w_out=(args.w_out_mean, args.w_out_std),
            progress=lambda row, s=seed: print(f"seed {s} {row}", flush=True),
        )
        result.pop("network")
        runs.append(result)
        print(
            f"seed {seed}: test accuracy {result['test_accuracy']:.3f} in {result['seconds']:.0f} s",
            flush=True,
        )
    summary = stats.summarize([r["test_accuracy"] for r in runs])
    rows = [
        [
            r["seed"],
            r["epoch"],
            f"{r['validation_accuracy']:.3f}",
            f"{r['curve'][-1]['validation']:.3f}",
            f"{r['test_accuracy']:.3f} [{r['low']:.3f}, {r['high']:.3f}]",
        ]
        for r in runs
    ]
    collapsed = sum(r["collapsed"] for r in runs)
    rows.append(["mean ± sd [95 % CI]", "", "", f"{collapsed} of {len(runs)} collapsed", summary.text()])
    report.write_benchmark(
        Path(args.out),
        f"EventProp on Yin-Yang: {args.hidden} hidden LIF, first-spike readout, {args.epochs} epochs of "
        f"{args.train} points, Adam {args.lr:g} x {args.lr_decay} per epoch, output weights "
        f"N({args.w_out_mean}, {args.w_out_std}), test accuracy on {args.test} fresh points per seed",
        "python benchmarks/eventprop_yinyang.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        ["seed", "epoch chosen on validation", "validation accuracy", "last epoch's validation"]
        + ["test accuracy [95 % Wilson]"],
        rows,
        runs=runs,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
