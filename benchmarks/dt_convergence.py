"""Discrete time meets continuous time: the exact gradient of the gridded network (crossing-time
interpolation, ``locallearn.eventgrid``) against EventProp's (``locallearn.eventprop``) as the
step h shrinks, on ``--networks`` random recurrent networks (5 inputs, 8 hidden LIF, 3 leaky
outputs, 100 ms, the test suite's generator). Per h: the median and quartiles over networks of
the relative error ||g_h - g_EventProp|| / ||g_EventProp|| (all weights), and how many networks
kept EventProp's spike count (only those are compared: another spike pattern is another
function; a network without hidden spikes has no gradient and is left out). The rate is the
least-squares slope of log median error on log h for h <= 0.25 ms.

    python benchmarks/dt_convergence.py [--networks 20] [--out results/temporal-credit/dt_convergence.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from locallearn import eventgrid, eventprop, report

STEPS = (1.0, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01)
NAMES = ("w_in", "w_rec", "w_out")


def network(seed: int, n_in: int = 5, n_hidden: int = 8, n_out: int = 3):
    """A random recurrent network and its input spikes (as tests/test_eventprop.py draws them)."""
    rng = np.random.default_rng(seed)
    w_rec = rng.normal(0, 0.5, (n_hidden, n_hidden))
    np.fill_diagonal(w_rec, 0)
    net = eventprop.EventNetwork(
        w_in=rng.normal(1.2, 0.8, (n_hidden, n_in)), w_out=rng.normal(0.0, 1, (n_out, n_hidden)), w_rec=w_rec
    )
    inputs = [np.sort(rng.uniform(0, 60, rng.integers(1, 4))) for _ in range(n_in)]
    return net, inputs


def errors(seeds, steps=STEPS) -> dict[float, list[float]]:
    """Relative gradient errors per step, for the networks whose spike count matched."""
    result: dict[float, list[float]] = {h: [] for h in steps}
    for seed in seeds:
        net, inputs = network(seed)
        exact = eventprop.gradients(net, inputs, 100.0, 1)
        reference = np.concatenate([exact[k].ravel() for k in NAMES])
        if not np.any(reference):  # no hidden spike: no gradient to compare
            continue
        for h in steps:
            grid = eventgrid.gradients(net, inputs, 100.0, 1, h)
            if grid["hidden_spikes"] != exact["trajectory"].hidden_spikes:
                continue
            estimate = np.concatenate([grid[k].ravel() for k in NAMES])
            result[h].append(float(np.linalg.norm(estimate - reference) / np.linalg.norm(reference)))
    return result


def slope(result: dict[float, list[float]], largest: float = 0.25) -> float:
    steps = [h for h in result if h <= largest and result[h]]
    medians = [np.median(result[h]) for h in steps]
    return float(np.polyfit(np.log(steps), np.log(medians), 1)[0])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--out", default="results/temporal-credit/dt_convergence.json")
    args = parser.parse_args(argv)
    result = errors(range(args.networks))
    rows = []
    for h, values in result.items():
        q = np.percentile(values, [25, 50, 75]) if values else [np.nan] * 3
        rows.append(
            [f"{h:g}", f"{q[1]:.2e}", f"[{q[0]:.1e}, {q[2]:.1e}]", f"{len(values)} of {args.networks}"]
        )
        print(" | ".join(rows[-1]), flush=True)
    rate = slope(result)
    out = Path(args.out)
    report.write_benchmark(
        out,
        "Gridded exact gradient vs EventProp as the step shrinks: relative error over random recurrent "
        f"networks (log-log slope for h <= 0.25 ms: {rate:.2f})",
        "python benchmarks/dt_convergence.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        ["step h (ms)", "median relative error", "quartiles", "networks with EventProp's spike count"],
        rows,
        errors={str(h): v for h, v in result.items()},
        slope=rate,
    )
    from locallearn.analysis import plt

    figure, ax = plt.subplots(figsize=(5, 3.8))
    for h, values in result.items():
        ax.scatter([h] * len(values), values, s=8, color="0.6")
    steps = [h for h in result if result[h]]
    ax.plot(steps, [np.median(result[h]) for h in steps], "o-", color="C0", label="median over networks")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step h (ms)")
    ax.set_ylabel("||g_h - g_EventProp|| / ||g_EventProp||")
    ax.set_title(f"gridded exact gradient → EventProp (slope {rate:.2f})", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out.with_suffix(".png"), dpi=120)
    plt.close(figure)
    print(f"slope {rate:.2f}; wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
